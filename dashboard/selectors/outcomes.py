"""Which qualified leads close: conversion by score with 95% intervals, score bands, the calibration sample apart, and
a threshold what-if."""

import math
import unicodedata
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import Substr

from dashboard.selectors.period import Period
from handoff.models import ChatwootInbox, Handoff
from leads.calibration import BELOW, calibration_scores
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


def outcome_counts_by_score(period: Period) -> tuple[dict[int, dict], dict[int, dict]]:
    """Of the leads created in the period, per score at handoff: handed off, resolved, converted, and the revenue
    of the converted ones (with how many carried a value) — the regular handoffs, and the calibration sample's
    apart. One GROUP BY over the period's handoffs."""
    rows = _done_in(period).filter(score__isnull=False).values("score", "sample").annotate(**_outcome_aggregates())
    regular, sampled = {}, {}
    for row in rows:
        (sampled if row["sample"] else regular)[row["score"]] = row
    return regular, sampled


# Brazil's area codes (DDD) by state, for the cut by region.
STATES = {
    "SP": "11 12 13 14 15 16 17 18 19", "RJ": "21 22 24", "ES": "27 28", "MG": "31 32 33 34 35 37 38",
    "PR": "41 42 43 44 45 46", "SC": "47 48 49", "RS": "51 53 54 55", "DF": "61", "GO": "62 64", "TO": "63",
    "MT": "65 66", "MS": "67", "AC": "68", "RO": "69", "BA": "71 73 74 75 77", "SE": "79", "PE": "81 87",
    "AL": "82", "PB": "83", "RN": "84", "CE": "85 88", "PI": "86 89", "PA": "91 93 94", "AM": "92 97", "RR": "95",
    "AP": "96", "MA": "98 99",
}  # fmt: skip
STATE_OF_DDD = {ddd: state for state, codes in STATES.items() for ddd in codes.split()}
TOP_INTERESTS = 10  # the interests with most handoffs; the rest are summed as "outros"


def _done_in(period: Period):
    """The period's handoffs that reached Chatwoot, of leads created in the period (the funnel's reading)."""
    done = Handoff.objects.filter(
        state=Handoff.State.DONE,
        created_at__gte=period.start,
        lead_created_at__gte=period.start,
        lead_created_at__lt=period.end,
    )
    return done.filter(team_id=period.team_id) if period.team_id is not None else done


def _outcome_aggregates(*, leads: bool = True) -> dict:
    """Per group: handed off, resolved and converted — leads (a lead handed off twice counts once), or handoffs
    (`leads=False`: the cuts, where counting handoffs spares the distinct counts' sorts)."""
    converted = Q(outcome=Lead.Status.CONVERTIDO)
    field, distinct = ("lead", True) if leads else ("pk", False)
    return {
        "handed_off": Count(field, distinct=distinct),
        "resolved": Count(field, distinct=distinct, filter=~Q(outcome="")),
        "converted": Count(field, distinct=distinct, filter=converted),
        "revenue": Sum("deal_value", filter=converted),
        "valued": Count("pk", filter=converted & Q(deal_value__isnull=False)),
    }


def conversion_cuts(period: Period) -> dict:
    """The same figures, counted in handoffs, by agent, by inbox (WhatsApp number), by area code with its state,
    and by the lead's interest (interest_groups: the TOP_INTERESTS most handed off; the others together); the sample
    left out."""
    done = _done_in(period).filter(sample=False)
    aggregates = _outcome_aggregates(leads=False)
    agents = done.values("assignee_id", "assignee_name").annotate(**aggregates).order_by("-handed_off")
    inboxes = done.values("inbox_id").annotate(**aggregates).order_by("-handed_off")
    names = dict(ChatwootInbox.objects.values_list("pk", "name"))
    ddds = (
        done.filter(lead__phone__startswith="+55")
        .annotate(ddd=Substr("lead__phone", 4, 2))
        .values("ddd")
        .annotate(**aggregates)
        .order_by("ddd")
    )
    interests = interest_groups(done.values("lead__interest").annotate(**aggregates).order_by())
    named, others = [], []
    for row in interests:  # a lead's own "Outros" joins the others
        (others if _plain(row["label"]) == "outros" else named).append(row)
    top, rest = named[:TOP_INTERESTS], named[TOP_INTERESTS:] + others
    if rest:
        top.append({"label": "outros", **_summed(rest)})
    return {
        "agents": [_cut_row(row, key=row["assignee_id"], label=row["assignee_name"] or "—") for row in agents],
        "inboxes": [_cut_row(row, key=row["inbox_id"], label=names.get(row["inbox_id"], "—")) for row in inboxes],
        "area_codes": [
            _cut_row(row, key=row["ddd"], label=f"{row['ddd']} ({STATE_OF_DDD.get(row['ddd'], '?')})") for row in ddds
        ],
        "interests": [_cut_row(row, key=None, label=row["label"]) for row in top],
    }


def interest_groups(rows) -> list[dict]:
    """The interests' figures grouped as a manager reads them: under the first of INTEREST_KEYWORDS an interest
    contains, else with the same words whatever their case, accents and spacing ("Energia  Solar" is "energia
    solar"), labelled by the group's most handed-off spelling; the most handed off first."""
    keywords = [(keyword, _plain(keyword)) for keyword in settings.DASHBOARD_INTEREST_KEYWORDS]
    groups: dict[str, list[dict]] = defaultdict(list)
    labels: dict[str, str] = {}
    for row in sorted(rows, key=lambda row: -row["handed_off"]):
        text = row["lead__interest"] or ""
        plain = _plain(text)
        keyword = next((keyword for keyword, words in keywords if words and words in plain), None)
        key = f"keyword:{keyword}" if keyword else plain
        labels.setdefault(key, keyword or text.strip() or "—")
        groups[key].append(row)
    summed = [{"label": labels[key], **_summed(members)} for key, members in groups.items()]
    return sorted(summed, key=lambda row: (-row["handed_off"], row["label"]))


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).split())


COUNTS = ("handed_off", "resolved", "converted", "valued")


def _summed(rows: list[dict]) -> dict:
    """Counts and revenue of several groups together (a band of scores; the interests past the top ones)."""
    summed = {key: sum(row.get(key, 0) for row in rows) for key in COUNTS}
    summed["revenue"] = sum((row.get("revenue") or Decimal(0) for row in rows), Decimal(0))
    return summed


def _figures(counts: dict) -> dict:
    """The conversion rate of resolved handoffs with its 95% interval (`small` below SMALL_SAMPLE), revenue and the
    average deal value, beside the counts."""
    resolved, converted, valued = counts["resolved"], counts["converted"], counts["valued"]
    revenue = counts["revenue"] or Decimal(0)
    interval = wilson_interval(converted, resolved)
    return {
        "handed_off": counts["handed_off"],
        "resolved": resolved,
        "converted": converted,
        "conversion_rate": converted / resolved if resolved else None,
        "interval": {"low": interval[0], "high": interval[1]} if interval else None,
        "small": resolved < SMALL_SAMPLE,
        "revenue": revenue.quantize(Decimal("0.01")),
        "average_deal_value": (revenue / valued).quantize(Decimal("0.01")) if valued else None,
    }


def _cut_row(row: dict, *, key, label: str) -> dict:
    return {"key": key, "label": label, **_figures(row)}  # a cut counts handoffs, not the leads created


def conversion_rows(leads_by_score: dict[str, int], outcomes: dict[int, dict], scores) -> dict:
    """One row for a score or a band of scores: the leads created with it, and their handoffs' figures."""
    leads = sum(leads_by_score.get(str(score), 0) for score in scores)
    return {"leads": leads, **_figures(_summed([outcomes.get(score, {}) for score in scores]))}


def score_bands(threshold: int) -> list[tuple[str, range]]:
    """The scores well below, just below (the calibration sample's), at and well above the threshold (empty bands
    left out)."""
    edges = [
        (1, threshold - BELOW - 1),
        (threshold - BELOW, threshold - 1),
        (threshold, threshold + 1),
        (threshold + 2, 10),
    ]
    bands = []
    for low, high in edges:
        low, high = max(low, 1), min(high, 10)
        if low <= high:
            bands.append((f"{low}–{high}" if low != high else str(low), range(low, high + 1)))
    return bands


def threshold_what_if(
    by_score: dict[int, dict], sampled: dict[int, dict], *, threshold: int, current: int, days: int
) -> dict:
    """What a threshold T would give, estimated from what the handed-off leads did: the handoffs a day the agents
    would receive (every lead scored T or more), and the conversions and revenue expected from each score's
    observed rate and average deal value. Below the current threshold the calibration sample's rate is taken where
    it has one (a random draw; the other handoffs of those scores were chosen by someone). Scores with no resolved
    handoff add leads but no estimate."""
    handoffs = conversions = Decimal(0)
    revenue = Decimal(0)
    unknown = 0
    from_sample = []
    for score in range(threshold, 11):
        row = by_score[score]
        handoffs += row["leads"]
        observed = row
        if score < current and score in sampled and sampled[score]["conversion_rate"] is not None:
            observed = sampled[score]
            from_sample.append(score)
        if observed["conversion_rate"] is None:
            unknown += row["leads"]
            continue
        expected = Decimal(row["leads"]) * Decimal(str(observed["conversion_rate"]))
        conversions += expected
        revenue += expected * (observed["average_deal_value"] or Decimal(0))
    return {
        "threshold": threshold,
        "estimate": True,
        "basis": "leads handed off and resolved in the period",
        "handoffs_per_day": float(handoffs / days) if days else None,
        "expected_conversions": float(conversions.quantize(Decimal("0.1"))),
        "expected_revenue": revenue.quantize(Decimal("0.01")),
        "leads_without_observed_rate": unknown,
        "scores_from_sample": from_sample,
    }


def conversion_collect(period: Period, leads_by_score: dict[str, int], *, threshold: int, candidate: int) -> dict:
    outcomes, sample_outcomes = outcome_counts_by_score(period)
    by_score = {score: conversion_rows(leads_by_score, outcomes, [score]) for score in range(1, 11)}
    share = settings.HANDOFF_CALIBRATION_SHARE
    # The scores the sample draws from now, and any the period's sample came from (an earlier threshold's).
    sample_scores = sorted({*sample_outcomes, *(calibration_scores(threshold) if share > 0 else ())})
    sampled = {score: conversion_rows(leads_by_score, sample_outcomes, [score]) for score in sample_scores}
    days = len(period.days)
    return {
        "by_score": [{"score": score, **row} for score, row in by_score.items()],
        "bands": [
            {"band": label, **conversion_rows(leads_by_score, outcomes, scores)}
            for label, scores in score_bands(threshold)
        ],
        "calibration": {
            "share": share,
            "label": settings.HANDOFF_CALIBRATION_LABEL,
            "by_score": [{"score": score, **row} for score, row in sampled.items()],
        },
        "what_if": threshold_what_if(by_score, sampled, threshold=candidate, current=threshold, days=days),
        **conversion_cuts(period),
    }
