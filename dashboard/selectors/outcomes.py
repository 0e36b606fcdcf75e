"""Which qualified leads close: conversion by score with 95% intervals, score bands, and a threshold what-if."""

import math
from decimal import Decimal

from django.db.models import Count, Q, Sum

from dashboard.selectors.period import Period
from handoff.models import Handoff
from leads.models import Lead

Z_95 = 1.959963984540054
SMALL_SAMPLE = 20  # fewer resolved handoffs than this: the rate is shown as a small number, never alone


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion: honest for small samples and for 0 or 100% (never outside
    [0, 1]); None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def outcome_counts_by_score(period: Period) -> dict[int, dict]:
    """Of the leads created in the period, per score at handoff: handed off, resolved, converted, and the revenue
    of the converted ones (with how many carried a value). One GROUP BY over the period's handoffs."""
    done = Handoff.objects.filter(
        state=Handoff.State.DONE,
        created_at__gte=period.start,
        lead_created_at__gte=period.start,
        lead_created_at__lt=period.end,
        score__isnull=False,
    )
    if period.team_id is not None:
        done = done.filter(team_id=period.team_id)
    converted = Q(outcome=Lead.Status.CONVERTIDO)
    rows = done.values("score").annotate(
        handed_off=Count("lead", distinct=True),
        resolved=Count("lead", distinct=True, filter=~Q(outcome="")),
        converted=Count("lead", distinct=True, filter=converted),
        revenue=Sum("deal_value", filter=converted),
        valued=Count("pk", filter=converted & Q(deal_value__isnull=False)),
    )
    return {row["score"]: row for row in rows}


def conversion_rows(leads_by_score: dict[str, int], outcomes: dict[int, dict], scores) -> dict:
    """One row for a score or a band of scores: counts, the conversion rate of resolved handoffs with its 95%
    interval (`small` below SMALL_SAMPLE), revenue and the average deal value."""
    total = {"leads": 0, "handed_off": 0, "resolved": 0, "converted": 0, "revenue": Decimal(0), "valued": 0}
    for score in scores:
        total["leads"] += leads_by_score.get(str(score), 0)
        row = outcomes.get(score, {})
        for key in ("handed_off", "resolved", "converted", "valued"):
            total[key] += row.get(key, 0)
        total["revenue"] += row.get("revenue") or Decimal(0)
    interval = wilson_interval(total["converted"], total["resolved"])
    return {
        "leads": total["leads"],
        "handed_off": total["handed_off"],
        "resolved": total["resolved"],
        "converted": total["converted"],
        "conversion_rate": total["converted"] / total["resolved"] if total["resolved"] else None,
        "interval": {"low": interval[0], "high": interval[1]} if interval else None,
        "small": total["resolved"] < SMALL_SAMPLE,
        "revenue": total["revenue"].quantize(Decimal("0.01")),
        "average_deal_value": (total["revenue"] / total["valued"]).quantize(Decimal("0.01"))
        if total["valued"]
        else None,
    }


def score_bands(threshold: int) -> list[tuple[str, range]]:
    """The scores well below, just below, at and well above the threshold (empty bands left out)."""
    edges = [(1, threshold - 3), (threshold - 2, threshold - 1), (threshold, threshold + 1), (threshold + 2, 10)]
    bands = []
    for low, high in edges:
        low, high = max(low, 1), min(high, 10)
        if low <= high:
            bands.append((f"{low}–{high}" if low != high else str(low), range(low, high + 1)))
    return bands


def threshold_what_if(by_score: dict[int, dict], *, threshold: int, days: int) -> dict:
    """What a threshold T would give, estimated from what the handed-off leads did: the handoffs a day the agents
    would receive (every lead scored T or more), and the conversions and revenue expected from each score's
    observed rate and average deal value. Scores with no resolved handoff add leads but no estimate."""
    handoffs = conversions = Decimal(0)
    revenue = Decimal(0)
    unknown = 0
    for score in range(threshold, 11):
        row = by_score[score]
        handoffs += row["leads"]
        if row["conversion_rate"] is None:
            unknown += row["leads"]
            continue
        expected = Decimal(row["leads"]) * Decimal(str(row["conversion_rate"]))
        conversions += expected
        revenue += expected * (row["average_deal_value"] or Decimal(0))
    return {
        "threshold": threshold,
        "estimate": True,
        "basis": "leads handed off and resolved in the period",
        "handoffs_per_day": float(handoffs / days) if days else None,
        "expected_conversions": float(conversions.quantize(Decimal("0.1"))),
        "expected_revenue": revenue.quantize(Decimal("0.01")),
        "leads_without_observed_rate": unknown,
    }


def conversion_collect(period: Period, leads_by_score: dict[str, int], *, threshold: int, candidate: int) -> dict:
    outcomes = outcome_counts_by_score(period)
    by_score = {score: conversion_rows(leads_by_score, outcomes, [score]) for score in range(1, 11)}
    return {
        "by_score": [{"score": score, **row} for score, row in by_score.items()],
        "bands": [
            {"band": label, **conversion_rows(leads_by_score, outcomes, scores)}
            for label, scores in score_bands(threshold)
        ],
        "what_if": threshold_what_if(by_score, threshold=candidate, days=len(period.days)),
    }
