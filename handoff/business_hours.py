"""Business hours for the speed-to-lead clock: "mon-fri 08:00-18:00, sat 09:00-13:00", in TIME_ZONE."""

from datetime import datetime, time, timedelta

from django.utils import timezone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 31


def business_hours_parse(spec: str) -> dict[int, list[tuple[time, time]]]:
    """Weekday (0 = Monday) → opening intervals; an empty spec means always open (returns {})."""
    hours: dict[int, list[tuple[time, time]]] = {}
    for part in filter(None, (item.strip().lower() for item in spec.split(","))):
        days, _, span = part.partition(" ")
        first, _, last = days.partition("-")
        start, _, end = span.strip().partition("-")
        for day in range(DAYS.index(first), DAYS.index(last or first) + 1):
            hours.setdefault(day, []).append((time.fromisoformat(start), time.fromisoformat(end)))
    return hours


def business_seconds(start: datetime, end: datetime, spec: str) -> float:
    """Seconds between start and end that fall inside business hours (all of them when spec is empty)."""
    if end <= start:
        return 0.0
    hours = business_hours_parse(spec)
    if not hours:
        return (end - start).total_seconds()
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    total = 0.0
    day = local_start.date()
    while day <= local_end.date() and (day - local_start.date()).days <= MAX_DAYS:
        for opens, closes in hours.get(day.weekday(), []):
            window_start = timezone.make_aware(datetime.combine(day, opens), local_start.tzinfo)
            window_end = timezone.make_aware(datetime.combine(day, closes), local_start.tzinfo)
            overlap = min(window_end, local_end) - max(window_start, local_start)
            total += max(overlap.total_seconds(), 0.0)
        day += timedelta(days=1)
    return total
