"""Metrics as a manager reads them: pt-BR numbers, percentages and durations, charts, CSV rows."""

from django.utils.formats import date_format, number_format

from dashboard import charts
from leads.models import Lead

DASH = "—"
STATUS_LABELS = dict(Lead.Status.choices)


def percent(rate: float | None) -> str:
    return DASH if rate is None else f"{number_format(rate * 100, decimal_pos=1)}%"


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
    return DASH if value is None else f"{number_format(value, decimal_pos=1)} h"


def cards(metrics: dict) -> list[tuple[str, str]]:
    leads, health = metrics["leads"], metrics["health"]
    funnel = {step["step"]: step for step in metrics["funnel"]}
    return [
        ("Leads no período", number_format(leads["total"], force_grouping=True)),
        (f"Taxa de qualificação (nota ≥ {metrics['threshold']})", percent(leads["qualification_rate"])),
        ("Transferidos ao Chatwoot", number_format(funnel["handed_off"]["count"], force_grouping=True)),
        ("Convertidos", number_format(funnel["converted"]["count"], force_grouping=True)),
        ("Transferências pendentes", number_format(health["queued"] + health["in_progress"], force_grouping=True)),
        ("Transferências com falha", number_format(health["failed"], force_grouping=True)),
    ]


def charts_for(metrics: dict) -> dict:
    leads, daily = metrics["leads"], metrics["daily"]
    every = max(1, len(daily) // 10)
    return {
        "status": charts.bars(
            "Leads por situação",
            [(STATUS_LABELS[s], n, number_format(n, force_grouping=True)) for s, n in leads["by_status"].items()],
            chart_id="chart-status",
        ),
        "scores": charts.columns(
            "Leads por nota (1 a 10)", [(score, n) for score, n in leads["by_score"].items()], chart_id="chart-scores"
        ),
        "funnel": charts.bars(
            "Funil: de lead a convertido",
            [
                (step["label"], step["count"], f"{step['count']} ({percent(step['rate_from_leads'])})")
                for step in metrics["funnel"]
            ],
            chart_id="chart-funnel",
        ),
        "leads_daily": charts.columns(
            "Leads por dia",
            [(date_format(row["day"], "d/m"), row["leads"]) for row in daily],
            chart_id="chart-leads-daily",
            label_every=every,
        ),
        "handoffs_daily": charts.columns(
            "Transferências por dia",
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


AGENT_COLUMNS = (
    ("agent_id", "id do agente"),
    ("name", "agente"),
    ("handled", "conversas"),
    ("resolved", "resolvidas"),
    ("converted", "convertidas"),
    ("lost", "perdidas"),
    ("conversion_rate", "taxa de conversão"),
    ("avg_resolution_hours", "horas até resolver (média)"),
    ("first_reply_p50_seconds", "primeira resposta p50 (s)"),
    ("first_reply_p90_seconds", "primeira resposta p90 (s)"),
    ("sla_met", "dentro da meta"),
    ("sla_due", "com meta vencida ou cumprida"),
    ("sla_attainment", "meta de resposta cumprida"),
    ("escalations", "escalonamentos"),
)
FUNNEL_COLUMNS = (
    ("step", "etapa"),
    ("label", "nome"),
    ("count", "leads"),
    ("rate_from_previous", "da etapa anterior"),
    ("rate_from_leads", "do total"),
)


def _csv_number(value):
    """Decimals with a comma, as a pt-BR spreadsheet reads them; blanks for "not applicable"."""
    if value is None:
        return ""
    return number_format(value, use_l10n=True) if isinstance(value, float) else value


def agent_csv_rows(agents: list[dict]):
    yield [title for _, title in AGENT_COLUMNS]
    for agent in agents:
        yield [_csv_number(agent[key]) for key, _ in AGENT_COLUMNS]


def funnel_csv_rows(funnel: list[dict]):
    yield [title for _, title in FUNNEL_COLUMNS]
    for step in funnel:
        yield [_csv_number(step[key]) for key, _ in FUNNEL_COLUMNS]
