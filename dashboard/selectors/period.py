"""The period a metric covers, and the small arithmetic every metric shares."""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from handoff.models import Handoff
from leads.models import Lead


@dataclass(frozen=True)
class Period:
    """Whole days in TIME_ZONE, both ends included, and an optional Chatwoot team."""

    first_day: date
    last_day: date
    team_id: int | None = None

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first_day, time.min))

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day, so a lead at 23:59:59.9 local time still counts."""
        return timezone.make_aware(datetime.combine(self.last_day + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def ratio(part: float, whole: float) -> float | None:
    """A rate, or None when there is nothing to divide by (shown as "—", never a ZeroDivisionError)."""
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def leads_in(period: Period) -> QuerySet[Lead]:
    leads = Lead.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.team_id is not None:
        # A handoff never precedes its lead: bounding it by the period keeps the subquery to recent handoffs.
        of_team = Handoff.objects.filter(created_at__gte=period.start, team_id=period.team_id)
        leads = leads.filter(pk__in=of_team.values("lead_id"))
    return leads


def handoffs_in(period: Period) -> QuerySet[Handoff]:
    handoffs = Handoff.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.team_id is not None:
        handoffs = handoffs.filter(team_id=period.team_id)
    return handoffs


def per_local_day(queryset: QuerySet, field: str, period: Period, **aggregates) -> dict[date, dict]:
    """Additive aggregates (counts, sums) of a queryset per local day of `field`, days without rows left out.

    On PostgreSQL, converting every row's timestamp to the local zone costs more than the counting itself;
    grouping by the UTC hour and folding the hours into local days here is about twice as fast, and exact
    whenever the zone's offset is whole hours throughout the period (all of Brazil's are).
    """
    zone = timezone.get_current_timezone()
    if not _whole_hour_offsets(period):
        rows = queryset.annotate(bucket=TruncDate(field, tzinfo=zone)).values("bucket").annotate(**aggregates)
        return {row.pop("bucket"): {name: value or 0 for name, value in row.items()} for row in rows.order_by()}
    days: dict[date, dict] = {}
    hours = queryset.annotate(bucket=TruncHour(field, tzinfo=UTC)).values("bucket").annotate(**aggregates)
    for row in hours.order_by():
        day = timezone.localtime(row.pop("bucket"), zone).date()
        totals = days.setdefault(day, dict.fromkeys(aggregates, 0))
        for name, value in row.items():
            totals[name] += value or 0
    return days


def _whole_hour_offsets(period: Period) -> bool:
    moments = [period.start + timedelta(days=n) for n in range(len(period.days) + 1)]
    return all(moment.utcoffset().total_seconds() % 3600 == 0 for moment in moments)
