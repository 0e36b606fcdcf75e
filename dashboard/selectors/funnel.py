"""Leads and handoffs over a period: status, qualification, scores, per day, and the funnel."""

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dashboard.selectors.period import Period, handoffs_in, leads_in, per_local_day, ratio
from handoff.models import Handoff
from leads.models import Lead

STATUSES = tuple(Lead.Status.values)
SCORES = tuple(range(1, 11))


def lead_figures(period: Period) -> dict:
    """Status counts, qualification and the score histogram in one pass, grouped by local day.

    The totals are the sums of the days, so one scan of the date range (an index-only scan of
    lead_created_cover_idx) serves the cards, the histogram and the leads-per-day chart, with conditional
    aggregation: COUNT(*) FILTER (WHERE ...) on PostgreSQL.
    """
    threshold = settings.HANDOFF_SCORE_THRESHOLD
    counts = {
        "total": Count("pk"),
        "qualified": Count("pk", filter=Q(qualification_score__gte=threshold)),
        "unscored": Count("pk", filter=Q(qualification_score__isnull=True)),
        **{f"status_{status}": Count("pk", filter=Q(status=status)) for status in STATUSES},
        **{f"score_{score}": Count("pk", filter=Q(qualification_score=score)) for score in SCORES},
    }
    days = per_local_day(leads_in(period), "created_at", period, **counts)
    summed = {name: sum(day[name] for day in days.values()) for name in counts}
    totals = {
        "total": summed["total"],
        "qualified": summed["qualified"],
        "qualification_rate": ratio(summed["qualified"], summed["total"]),
        "unscored": summed["unscored"],
        "by_status": {status: summed[f"status_{status}"] for status in STATUSES},
        "by_score": {str(score): summed[f"score_{score}"] for score in SCORES},
    }
    return {"totals": totals, "by_day": {day: row["total"] for day, row in days.items()}}


def handoff_figures(period: Period) -> dict:
    """Handoffs created in the period, per local day, and the retries they needed."""
    days = per_local_day(
        handoffs_in(period),
        "created_at",
        period,
        total=Count("pk"),
        # Every attempt after the first is a retry.
        retries=Sum("attempts", filter=Q(attempts__gt=1)) - Count("pk", filter=Q(attempts__gt=1)),
    )
    return {
        "totals": {
            "total": sum(row["total"] for row in days.values()),
            "retries": sum(row["retries"] for row in days.values()),
        },
        "by_day": {day: row["total"] for day, row in days.items()},
    }


def funnel_handoff_counts(period: Period) -> dict:
    """Of the leads created in the period: how many reached Chatwoot, and how many a human answered there — the
    calibration sample, whose leads were not qualified, left out — and how many converted leads only the sample
    handed off, to be taken out of the funnel's converted step."""
    # A handoff never precedes its lead, so an index range on its own created_at finds them all, and the lead's
    # creation copied on the handoff spares a join with the lead table (handoff_created_cover3_idx covers it).
    done = Handoff.objects.filter(
        state=Handoff.State.DONE,
        created_at__gte=period.start,
        lead_created_at__gte=period.start,
        lead_created_at__lt=period.end,
    )
    if period.team_id is not None:
        done = done.filter(team_id=period.team_id)
    counts = done.aggregate(
        handed_off=Count("lead", distinct=True, filter=Q(sample=False)),
        replied=Count("lead", distinct=True, filter=Q(sample=False, first_reply_at__isnull=False)),
    )
    # Converted leads that only the sample handed off (none of their handoffs outside it reached Chatwoot).
    regular = Handoff.objects.filter(lead=OuterRef("lead"), sample=False, state=Handoff.State.DONE)
    only_sample = done.filter(sample=True, lead__status=Lead.Status.CONVERTIDO).exclude(Exists(regular))
    counts["sample_converted"] = only_sample.values("lead").distinct().count()
    return counts


def funnel_build(leads: dict, handoffs: dict) -> list[dict]:
    """leads → qualified → handed off → first human reply → converted, each with its rate from the step before."""
    # The labels are shown on the dashboard, in the viewer's language; "lead count" words are plural in Portuguese.
    steps = [
        ("leads", _("Leads"), leads["total"]),
        ("qualified", pgettext_lazy("lead count", "Qualified"), leads["qualified"]),
        ("handed_off", pgettext_lazy("lead count", "Handed off"), handoffs["handed_off"]),
        ("replied", _("First human reply"), handoffs["replied"]),
        (
            "converted",
            pgettext_lazy("lead count", "Converted"),
            leads["by_status"][Lead.Status.CONVERTIDO] - handoffs["sample_converted"],
        ),
    ]
    funnel, previous = [], None
    for key, label, count in steps:
        funnel.append(
            {
                "step": key,
                "label": label,
                "count": count,
                "rate_from_previous": ratio(count, previous) if previous is not None else None,
                "rate_from_leads": ratio(count, leads["total"]),
            }
        )
        previous = count
    return funnel
