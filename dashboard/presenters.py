"""Metrics as a manager reads them: pt-BR numbers, percentages and durations, charts, CSV rows."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dashboard import charts
from handoff.outcomes import deal_value_display
from leads.models import Lead

DASH = "—"
STATUS_LABELS = dict(Lead.Status.choices)


def _one_decimal(value: float | Decimal) -> str:
    """Rounded to one decimal, half up (number_format alone cuts the digits off: 66.67 would read 66,6), in decimal
    arithmetic (0.0515 × 100 in floats is 5.1499…)."""
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    return number_format(exact.quantize(Decimal("0.1"), ROUND_HALF_UP), decimal_pos=1)


def percent(rate: float | None) -> str:
    return DASH if rate is None else f"{_one_decimal(Decimal(repr(rate)) * 100)}%"


def duration(seconds: float | None) -> str:
    """2 min 05 s, 1 h 12 min, 3 d 4 h: precise enough for a first reply, readable for a slow one."""
    if seconds is None:
        return DASH
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def hours(value: float | None) -> str:
    return DASH if value is None else f"{_one_decimal(value)} h"


def cards(metrics: dict) -> list[tuple[str, str]]:
    leads, health = metrics["leads"], metrics["health"]
    funnel = {step["step"]: step for step in metrics["funnel"]}
    return [
        (_("Leads in the period"), number_format(leads["total"], force_grouping=True)),
        (
            _("Qualification rate (score ≥ {threshold})").format(threshold=metrics["threshold"]),
            percent(leads["qualification_rate"]),
        ),
        (_("Handed off to Chatwoot"), number_format(funnel["handed_off"]["count"], force_grouping=True)),
        (pgettext_lazy("lead count", "Converted"), number_format(funnel["converted"]["count"], force_grouping=True)),
        (_("Pending handoffs"), number_format(health["queued"] + health["in_progress"], force_grouping=True)),
        (_("Failed handoffs"), number_format(health["failed"], force_grouping=True)),
    ]


def charts_for(metrics: dict) -> dict:
    leads, daily = metrics["leads"], metrics["daily"]
    every = max(1, len(daily) // 10)
    return {
        "status": charts.bars(
            _("Leads by status"),
            [(STATUS_LABELS[s], n, number_format(n, force_grouping=True)) for s, n in leads["by_status"].items()],
            chart_id="chart-status",
        ),
        "scores": charts.columns(
            _("Leads by score (1 to 10)"),
            [(score, n) for score, n in leads["by_score"].items()],
            chart_id="chart-scores",
        ),
        "funnel": charts.bars(
            _("Funnel: from lead to converted"),
            [
                (step["label"], step["count"], f"{step['count']} ({percent(step['rate_from_leads'])})")
                for step in metrics["funnel"]
            ],
            chart_id="chart-funnel",
        ),
        "leads_daily": charts.columns(
            _("Leads per day"),
            [(date_format(row["day"], "d/m"), row["leads"]) for row in daily],
            chart_id="chart-leads-daily",
            label_every=every,
        ),
        "handoffs_daily": charts.columns(
            _("Handoffs per day"),
            [(date_format(row["day"], "d/m"), row["handoffs"]) for row in daily],
            chart_id="chart-handoffs-daily",
            label_every=every,
        ),
    }


def health(figures: dict) -> dict:
    return {
        "oldest_pending_age": duration(figures["oldest_pending_age_seconds"]),
        "error_rate": percent(figures["chatwoot_calls"]["error_rate"]),
    }


def funnel_rows(funnel: list[dict]) -> list[dict]:
    return [
        {**step, "from_previous": percent(step["rate_from_previous"]), "from_leads": percent(step["rate_from_leads"])}
        for step in funnel
    ]


def agent_rows(agents: list[dict]) -> list[dict]:
    return [
        {
            **agent,
            "conversion": percent(agent["conversion_rate"]),
            "resolution": hours(agent["avg_resolution_hours"]),
            "p50": duration(agent["first_reply_p50_seconds"]),
            "p90": duration(agent["first_reply_p90_seconds"]),
            "sla": percent(agent["sla_attainment"]),
        }
        for agent in agents
    ]


# The CSV headers follow the viewer's language like the page; in pt-BR (the default) they are what they always were.
AGENT_COLUMNS = (
    ("agent_id", _("agent id")),
    ("name", _("agent")),
    ("handled", _("conversations")),
    ("resolved", _("resolved")),
    ("converted", _("converted")),
    ("lost", _("lost")),
    ("conversion_rate", _("conversion rate")),
    ("avg_resolution_hours", _("hours to resolve (average)")),
    ("first_reply_p50_seconds", _("first reply p50 (s)")),
    ("first_reply_p90_seconds", _("first reply p90 (s)")),
    ("sla_met", _("within target")),
    ("sla_due", _("target passed or met")),
    ("sla_attainment", _("reply target met")),
    ("escalations", _("escalations")),
)
FUNNEL_COLUMNS = (
    ("step", _("step")),
    ("label", _("name")),
    ("count", _("leads")),
    ("rate_from_previous", _("from the previous step")),
    ("rate_from_leads", _("of the total")),
)


def _csv_number(value):
    """Decimals with a comma, as a pt-BR spreadsheet reads them; blanks for "not applicable"."""
    if value is None:
        return ""
    return number_format(value, use_l10n=True) if isinstance(value, float) else value


def agent_csv_rows(agents: list[dict]):
    yield [title for _key, title in AGENT_COLUMNS]
    for agent in agents:
        yield [_csv_number(agent[key]) for key, _title in AGENT_COLUMNS]


def funnel_csv_rows(funnel: list[dict]):
    yield [title for _key, title in FUNNEL_COLUMNS]
    for step in funnel:
        yield [_csv_number(step[key]) for key, _title in FUNNEL_COLUMNS]


def conversion_rate_text(row: dict) -> str:
    """A rate with its 95% interval; a small sample as counts, never as a confident percentage."""
    if not row["resolved"]:
        return DASH
    if row["small"]:
        return _("{converted} of {resolved} (too few to say)").format(
            converted=row["converted"], resolved=row["resolved"]
        )
    interval = row["interval"]
    return f"{percent(row['conversion_rate'])} ({percent(interval['low'])}–{percent(interval['high'])})"


def money(value) -> str:
    return DASH if value is None else deal_value_display(value)


def conversion_rows(conversion: dict) -> list[dict]:
    """The bands around the threshold, then each score."""
    rows = [
        {"label": _("Scores {band}").format(band=band["band"]), "band": True, **band} for band in conversion["bands"]
    ]
    rows += [
        {"label": _("Score {score}").format(score=row["score"]), "band": False, **row} for row in conversion["by_score"]
    ]
    return [_conversion_texts(row) for row in rows]


def calibration_rows(conversion: dict) -> list[dict]:
    """The calibration sample's scores, shown apart from the other handoffs."""
    return [
        _conversion_texts({"label": _("Score {score}").format(score=row["score"]), **row})
        for row in conversion["calibration"]["by_score"]
    ]


def _conversion_texts(row: dict) -> dict:
    return {
        **row,
        "rate": conversion_rate_text(row),
        "revenue_text": money(row["revenue"]),
        "average": money(row["average_deal_value"]),
    }


CONVERSION_CUTS = (
    ("agents", _("By agent")),
    ("inboxes", _("By WhatsApp number")),
    ("area_codes", _("By area code (DDD)")),
    ("interests", _("By interest")),
)

CONVERSION_COLUMNS = (
    ("table", _("table")),
    ("row", _("row")),
    ("leads", _("leads")),
    ("handed_off", _("handed off")),
    ("resolved", _("resolved")),
    ("converted", _("converted")),
    ("conversion_rate", _("conversion rate")),
    ("interval_low", _("interval low")),
    ("interval_high", _("interval high")),
    ("revenue", _("revenue")),
    ("average_deal_value", _("average deal value")),
)


def conversion_csv_rows(conversion: dict):
    """Every table of the conversion figures, one row per line with its table named first: the scores, the bands,
    the calibration sample, then the cuts (which count handoffs: no leads column)."""
    yield [title for _key, title in CONVERSION_COLUMNS]
    tables = [
        (_("score"), "score", conversion["by_score"]),
        (_("band"), "band", conversion["bands"]),
        (_("calibration sample"), "score", conversion["calibration"]["by_score"]),
        *((title, "label", conversion[key]) for key, title in CONVERSION_CUTS),
    ]
    for table, row_key, rows in tables:
        for row in rows:
            interval = row["interval"] or {}
            values = {
                **row,
                "table": table,
                "row": row[row_key],
                "leads": row.get("leads"),
                "interval_low": interval.get("low"),
                "interval_high": interval.get("high"),
            }
            yield [_csv_number(values[key]) for key, _title in CONVERSION_COLUMNS]


def conversion_cut_tables(conversion: dict) -> list[tuple[str, list[dict]]]:
    """The cuts of the conversion figures, each as (title, rows) for the dashboard."""
    return [
        (
            title,
            [
                {**row, "rate": conversion_rate_text(row), "revenue_text": money(row["revenue"])}
                for row in conversion[key]
            ],
        )
        for key, title in CONVERSION_CUTS
    ]
