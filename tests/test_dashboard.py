"""Dashboard metrics on hand-built data with known answers, the page, the metrics API and the CSV exports."""

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from dashboard.selectors import Period, metrics_collect, percentile
from handoff.models import ChatwootCall, Handoff, HandoffEvent, RoutingRule
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
DAY = date(2026, 11, 10)
PERIOD = Period(first_day=DAY, last_day=DAY + timedelta(days=6))


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A moment in São Paulo time, days after DAY."""
    return datetime.combine(DAY + timedelta(days=day_offset), datetime.min.time(), SP).replace(hour=hour, minute=minute)


def lead(created: datetime, score: int | None = 5, status: str = Lead.Status.NOVO) -> Lead:
    made = LeadFactory(qualification_score=score)
    # Straight to the row: the status and creation date are history here, not a change that should trigger handoffs.
    Lead.objects.filter(pk=made.pk).update(created_at=created, status=status)
    made.refresh_from_db()
    return made


def handoff(owner: Lead, *, state=Handoff.State.DONE, agent=(11, "Ana Paula"), reply_after=None, **fields) -> Handoff:
    created = fields.pop("created_at", owner.created_at + timedelta(minutes=1))
    finished = created + timedelta(seconds=10) if state == Handoff.State.DONE else None
    return Handoff.objects.create(
        lead=owner,
        state=state,
        trigger=fields.pop("trigger", Handoff.Trigger.SCORE),
        created_at=created,
        finished_at=finished,
        assignee_id=agent[0] if agent else None,
        assignee_name=agent[1] if agent else "",
        first_reply_at=finished + reply_after if reply_after is not None else None,
        **fields,
    )


# --- metric correctness ---------------------------------------------------------------------------------


def test_an_empty_range_is_all_zeros_and_no_rates():
    metrics = metrics_collect(PERIOD)
    assert metrics["leads"]["total"] == 0
    assert metrics["leads"]["qualification_rate"] is None
    assert set(metrics["leads"]["by_status"].values()) == {0}
    assert [step["count"] for step in metrics["funnel"]] == [0, 0, 0, 0, 0]
    assert all(step["rate_from_previous"] is None for step in metrics["funnel"][1:])
    assert metrics["agents"] == []
    assert metrics["health"]["chatwoot_calls"] == {"total": 0, "errors": 0, "error_rate": None, "by_status": {}}
    assert [row["leads"] for row in metrics["daily"]] == [0] * 7


def test_status_counts_qualification_rate_and_histogram(settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    for score, status in [(3, "novo"), (6, "novo"), (7, "qualificado"), (9, "handed_off"), (10, "convertido")]:
        lead(at(1, 10), score=score, status=status)
    lead(at(1, 11), score=None)
    totals = metrics_collect(PERIOD)["leads"]
    assert totals["total"] == 6
    assert totals["qualified"] == 3
    assert totals["qualification_rate"] == 0.5
    assert totals["unscored"] == 1
    assert totals["by_status"] == {"novo": 3, "qualificado": 1, "handed_off": 1, "convertido": 1, "perdido": 0}
    assert totals["by_score"]["7"] == 1 and totals["by_score"]["1"] == 0 and sum(totals["by_score"].values()) == 5


def test_the_threshold_setting_moves_the_qualification_rate(settings):
    lead(at(0, 9), score=6)
    lead(at(0, 9), score=8)
    settings.HANDOFF_SCORE_THRESHOLD = 6
    assert metrics_collect(PERIOD)["leads"]["qualified"] == 2


def test_days_are_cut_at_midnight_in_sao_paulo_not_utc():
    lead(at(2, 23, 30))  # 02:30 UTC the next day
    lead(at(3, 0, 0))
    lead(at(-1, 23, 59))  # the evening before the period: outside it
    lead(at(7, 0, 0))  # midnight after the last day: outside it
    metrics = metrics_collect(PERIOD)
    assert metrics["leads"]["total"] == 2
    by_day = {row["day"]: row["leads"] for row in metrics["daily"]}
    assert by_day[DAY + timedelta(days=2)] == 1
    assert by_day[DAY + timedelta(days=3)] == 1


def test_the_funnel_follows_the_leads_created_in_the_period(settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    replied = lead(at(1, 9), score=9, status=Lead.Status.CONVERTIDO)
    handoff(replied, reply_after=timedelta(minutes=2))
    handoff(replied, reply_after=timedelta(minutes=1), created_at=at(4, 9))  # came back: still one lead
    silent = lead(at(1, 9), score=8, status=Lead.Status.HANDED_OFF)
    handoff(silent)
    failing = lead(at(1, 9), score=7, status=Lead.Status.QUALIFICADO)
    handoff(failing, state=Handoff.State.FAILED)
    lead(at(1, 9), score=2)
    older = lead(at(-3, 9), score=9, status=Lead.Status.HANDED_OFF)
    handoff(older, created_at=at(1, 9))  # handed off in the period, but not one of its leads
    funnel = {step["step"]: step for step in metrics_collect(PERIOD)["funnel"]}
    assert [funnel[s]["count"] for s in ("leads", "qualified", "handed_off", "replied", "converted")] == [4, 3, 2, 1, 1]
    assert funnel["qualified"]["rate_from_previous"] == 0.75
    assert funnel["handed_off"]["rate_from_previous"] == 0.6667
    assert funnel["converted"]["rate_from_leads"] == 0.25


def test_agent_performance_with_known_answers(settings):
    settings.HANDOFF_SLA_MINUTES = 5
    replies = [1, 2, 3, 4, 10]  # minutes
    for minutes in replies:
        owner = lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF)
        handoff(owner, reply_after=timedelta(minutes=minutes))
    won = Handoff.objects.order_by("first_reply_at")[0]
    Handoff.objects.filter(pk=won.pk).update(resolved_at=won.finished_at + timedelta(hours=3), outcome="convertido")
    lost = Handoff.objects.order_by("first_reply_at")[1]
    Handoff.objects.filter(pk=lost.pk).update(resolved_at=lost.finished_at + timedelta(hours=1), outcome="perdido")
    HandoffEvent.objects.create(
        handoff=won, kind="escalated", message="x", data={"from_agent": 11, "to_agent": 12}, created_at=at(1, 10)
    )
    [ana] = metrics_collect(PERIOD)["agents"]
    assert (ana["agent_id"], ana["name"], ana["handled"], ana["resolved"]) == (11, "Ana Paula", 5, 2)
    assert ana["conversion_rate"] == 0.5
    assert ana["avg_resolution_hours"] == 2.0
    assert ana["first_reply_p50_seconds"] == 180.0
    assert ana["first_reply_p90_seconds"] == pytest.approx(456.0)  # between 4 and 10 minutes, as percentile_cont
    assert (ana["sla_met"], ana["sla_due"], ana["sla_attainment"]) == (4, 5, 0.8)
    assert ana["escalations"] == 1


def test_an_unanswered_handoff_counts_against_the_sla_only_once_its_target_has_passed(settings):
    settings.HANDOFF_SLA_MINUTES = 5
    recent = lead(timezone.now() - timedelta(minutes=2), score=9, status=Lead.Status.HANDED_OFF)
    handoff(recent, created_at=timezone.now() - timedelta(minutes=1))
    old = lead(timezone.now() - timedelta(hours=2), score=9, status=Lead.Status.HANDED_OFF)
    handoff(old, created_at=timezone.now() - timedelta(hours=1))
    today = timezone.localdate()
    [agent] = metrics_collect(Period(first_day=today - timedelta(days=1), last_day=today))["agents"]
    assert (agent["sla_met"], agent["sla_due"], agent["sla_attainment"]) == (0, 1, 0.0)
    assert agent["first_reply_p50_seconds"] is None


def test_a_routing_rule_target_is_the_one_the_sla_is_judged_by(settings):
    settings.HANDOFF_SLA_MINUTES = 5
    rule = RoutingRule.objects.create(name="Empresas", sla_minutes=30)
    owner = lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF)
    handoff(owner, reply_after=timedelta(minutes=20), routing={"rule_id": rule.pk})
    [agent] = metrics_collect(PERIOD)["agents"]
    assert agent["sla_met"] == 1


def test_agents_are_separate_rows_ordered_by_conversations():
    for agent, count in (((11, "Ana Paula"), 1), ((12, "Bruno"), 3)):
        for _ in range(count):
            handoff(lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF), agent=agent)
    handoff(lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF), agent=None)
    rows = metrics_collect(PERIOD)["agents"]
    assert [(row["name"], row["handled"]) for row in rows] == [("Bruno", 3), ("Ana Paula", 1), ("Sem agente", 1)]


def test_handoff_health_now_and_chatwoot_answers_in_the_period():
    owner = lead(at(1, 9), score=9, status=Lead.Status.QUALIFICADO)
    queued = handoff(owner, state=Handoff.State.QUEUED, created_at=timezone.now() - timedelta(minutes=30))
    failed_lead = lead(at(1, 9), score=9, status=Lead.Status.QUALIFICADO)
    failed = handoff(failed_lead, state=Handoff.State.FAILED, last_error="Chatwoot respondeu 401", attempts=3)
    for status in (200, 200, 200, 503, 429, None):
        ChatwootCall.objects.create(
            handoff=failed,
            method="POST",
            path="/contacts",
            status=status,
            duration_ms=5,
            created_at=at(2, 9),
            error_class="" if status else "ChatwootTimeout",
        )
    ChatwootCall.objects.create(method="GET", path="/x", status=500, duration_ms=5, created_at=at(-2, 9))
    health = metrics_collect(PERIOD)["health"]
    assert (health["queued"], health["in_progress"], health["failed"]) == (1, 0, 1)
    assert health["oldest_pending"] == queued.created_at
    assert 1790 <= health["oldest_pending_age_seconds"] <= 1830
    assert health["retries"] == 2
    calls = health["chatwoot_calls"]
    assert calls["total"] == 6 and calls["errors"] == 3 and calls["error_rate"] == 0.5
    assert calls["by_status"] == {"2xx": 3, "5xx": 1, "429": 1, "sem resposta": 1}
    assert health["recent_failures"][0]["error"] == "Chatwoot respondeu 401"


def test_the_team_filter_narrows_handoffs_agents_and_leads():
    sp = lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF)
    handoff(sp, team_id=1, team_name="Vendas SP")
    rj = lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF)
    handoff(rj, team_id=2, team_name="Vendas RJ", agent=(12, "Bruno"))
    lead(at(1, 9), score=2)
    metrics = metrics_collect(Period(first_day=PERIOD.first_day, last_day=PERIOD.last_day, team_id=2))
    assert metrics["leads"]["total"] == 1
    assert [agent["name"] for agent in metrics["agents"]] == ["Bruno"]
    assert sum(row["handoffs"] for row in metrics["daily"]) == 1


def test_percentile_interpolates_like_postgresql():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


# --- the page ---------------------------------------------------------------------------------------------


def test_the_dashboard_renders_charts_in_pt_br_without_external_assets(manager):
    owner = lead(timezone.now() - timedelta(hours=1), score=9, status=Lead.Status.HANDED_OFF)
    handoff(owner, reply_after=timedelta(minutes=3))
    page = manager.get("/dashboard/?range=7d").content.decode()
    assert "Leads por situação" in page and "Em atendimento" in page
    assert page.count('<svg role="img"') == 5
    assert "<title" in page and "Ana Paula" in page and "3 min 00 s" in page
    assert '<script src="http' not in page and "cdn" not in page.lower()


def test_the_dashboard_with_nothing_in_the_range_shows_zeros(manager):
    page = manager.get("/dashboard/?range=today")
    assert page.status_code == 200
    assert "Nenhuma transferência concluída no período." in page.content.decode()


def test_a_bad_custom_range_says_why_and_shows_the_last_30_days(manager):
    page = manager.get("/dashboard/?range=custom&start=2026-11-20&end=2026-11-01")
    assert page.status_code == 200
    assert "A data inicial deve ser anterior ou igual à final." in page.content.decode()
    assert (page.context["period"].last_day - page.context["period"].first_day).days == 29


def test_the_dashboard_is_linked_from_the_admin(manager):
    assert 'href="/dashboard/"' in manager.get("/admin/").content.decode()


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/agentes.csv", "/dashboard/funil.csv"])
def test_the_dashboard_is_for_staff_only(client, path):
    assert client.get(path).status_code == 302
    User.objects.create_user("cliente", password="senha-forte-123")
    client.login(username="cliente", password="senha-forte-123")
    assert client.get(path).status_code == 302


def test_staff_without_permission_to_view_leads_is_refused(client):
    User.objects.create_user("estagiario", password="senha-forte-123", is_staff=True)
    client.login(username="estagiario", password="senha-forte-123")
    assert client.get("/dashboard/").status_code == 403


# --- CSV exports ------------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_the_agent_table_exports_as_csv(manager):
    owner = lead(timezone.now() - timedelta(hours=1), score=9, status=Lead.Status.HANDED_OFF)
    handoff(owner, reply_after=timedelta(seconds=90), agent=(11, "=Ana"))
    response = manager.get("/dashboard/agentes.csv?range=7d")
    assert response["Content-Disposition"].startswith('attachment; filename="agentes-')
    header, row = read_csv(response)
    assert header[:3] == ["id do agente", "agente", "conversas"]
    assert row[:3] == ["11", "'=Ana", "1"]  # a name never runs as a spreadsheet formula
    assert row[header.index("primeira resposta p50 (s)")] == "90,0"


def test_the_funnel_exports_as_csv(manager):
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    earlier_today = midnight + (now - midnight) / 2  # an hour ago is yesterday just after midnight
    lead(earlier_today, score=9)
    lead(earlier_today, score=1)
    rows = read_csv(manager.get("/dashboard/funil.csv?range=today"))
    assert rows[0] == ["etapa", "nome", "leads", "da etapa anterior", "do total"]
    assert rows[1][:3] == ["leads", "Leads", "2"]
    assert rows[2][:4] == ["qualified", "Qualificados", "1", "0,5"]


# --- the metrics API ---------------------------------------------------------------------------------------


def test_the_metrics_api_returns_the_dashboard_figures(api):
    lead(at(1, 9), score=9, status=Lead.Status.HANDED_OFF)
    body = api.get("/api/v1/metrics/?from=2026-11-10&to=2026-11-16").json()
    assert body["period"] == {"from": "2026-11-10", "to": "2026-11-16", "team_id": None}
    assert body["leads"]["total"] == 1
    assert body["funnel"][0] == {
        "step": "leads",
        "label": "Leads",
        "count": 1,
        "rate_from_previous": None,
        "rate_from_leads": 1.0,
    }
    assert len(body["daily"]) == 7


def test_the_metrics_api_defaults_to_the_last_30_days(api):
    body = api.get("/api/v1/metrics/").json()
    assert body["period"]["to"] == timezone.localdate().isoformat()
    assert len(body["daily"]) == 30


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("to=ontem", "to"),
        ("from=2026-11-20&to=2026-11-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "from"),
        ("team=abc", "team"),
    ],
)
def test_the_metrics_api_names_the_bad_field(api, query, field):
    response = api.get(f"/api/v1/metrics/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_the_metrics_api_needs_a_key_or_a_staff_session(anonymous_api, manager):
    assert anonymous_api.get("/api/v1/metrics/").status_code == 401
    assert manager.get("/api/v1/metrics/").status_code == 200


def test_the_metrics_api_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/metrics/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"from", "to", "team", "what_if"}
    assert {"200", "400", "401"} <= set(operation["responses"])
    assert {"agents", "conversion"} <= set(schema["components"]["schemas"]["Metrics"]["properties"])


def test_business_hours_stop_the_sla_clock_overnight(settings):
    settings.HANDOFF_SLA_MINUTES = 5
    settings.HANDOFF_BUSINESS_HOURS = "mon-sun 08:00-18:00"
    evening = lead(at(1, 17), score=9, status=Lead.Status.HANDED_OFF)
    # Handed off at 17:58, answered at 08:02 the next morning: four business minutes.
    handoff(evening, created_at=at(1, 17, 57), reply_after=timedelta(hours=14, minutes=3, seconds=50))
    morning = lead(at(2, 9), score=9, status=Lead.Status.HANDED_OFF)
    handoff(morning, created_at=at(2, 9), reply_after=timedelta(minutes=7))
    [agent] = metrics_collect(PERIOD)["agents"]
    assert (agent["sla_met"], agent["sla_due"]) == (1, 2)
    settings.HANDOFF_BUSINESS_HOURS = ""
    [agent] = metrics_collect(PERIOD)["agents"]
    assert (agent["sla_met"], agent["sla_due"]) == (0, 2)


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "Asia/Kolkata", "America/St_Johns"])
def test_days_follow_the_configured_time_zone_whole_hour_offset_or_not(settings, zone):
    settings.TIME_ZONE = zone
    local = ZoneInfo(zone)
    day = datetime(2026, 11, 12, tzinfo=local)
    lead(day - timedelta(minutes=1))
    lead(day)
    lead(day + timedelta(hours=23, minutes=59))
    handoff(lead(day + timedelta(hours=1), score=9, status=Lead.Status.HANDED_OFF), attempts=3)
    metrics = metrics_collect(PERIOD)
    by_day = {row["day"]: (row["leads"], row["handoffs"]) for row in metrics["daily"]}
    assert by_day[date(2026, 11, 11)] == (1, 0)
    assert by_day[date(2026, 11, 12)] == (3, 1)
    assert metrics["health"]["retries"] == 2


def test_percentages_and_hours_are_rounded_not_cut_off():
    from dashboard.presenters import hours, percent

    assert (percent(2 / 3), percent(0.99999), percent(0.0004), percent(None)) == ("66,7%", "100,0%", "0,0%", "—")
    assert (percent(103 / 2000), percent(9 / 2000)) == ("5,2%", "0,5%")  # 5.1499… in floats
    assert hours(2.96) == "3,0 h"


def test_chart_labels_are_escaped():
    from dashboard import charts

    svg = charts.bars("Agentes <b>", [("<script>alert(1)</script>", 3, "3")], chart_id="x")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Agentes &lt;b&gt;" in svg
    svg = charts.columns("Dias", [("<i>1</i>", 2)], chart_id="y")
    assert "<i>" not in svg and "&lt;i&gt;1&lt;/i&gt;" in svg


# --- conversion by score -----------------------------------------------------------------------------------


def test_the_wilson_interval_matches_known_values_and_stays_within_0_and_1():
    from dashboard.selectors.outcomes import wilson_interval

    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    low, high = wilson_interval(0, 5)
    assert low == 0 and round(high, 3) == 0.434
    low, high = wilson_interval(5, 5)
    assert round(low, 3) == 0.566 and high == 1
    assert wilson_interval(0, 0) is None


def closed(score: int, outcome: str, value=None, day: int = 1):
    owner = lead(at(day, 10), score=score, status=outcome)
    return handoff(owner, score=score, outcome=outcome, deal_value=value)


def test_conversion_by_score_counts_rates_intervals_and_revenue():
    from decimal import Decimal

    for _ in range(8):
        closed(9, "convertido", Decimal("10000"))
    for _ in range(2):
        closed(9, "perdido")
    closed(7, "convertido", Decimal("3000"))
    closed(7, "convertido")  # converted without a recorded value: in the rate, not in the average
    lead(at(2, 9), score=7)  # scored, never handed off
    conversion = metrics_collect(PERIOD)["conversion"]
    nine = conversion["by_score"][8]
    assert (nine["score"], nine["leads"], nine["handed_off"], nine["resolved"], nine["converted"]) == (9, 10, 10, 10, 8)
    assert nine["conversion_rate"] == 0.8 and round(nine["interval"]["low"], 3) == 0.490 and nine["small"]
    assert (nine["revenue"], nine["average_deal_value"]) == (Decimal("80000.00"), Decimal("10000.00"))
    seven = conversion["by_score"][6]
    assert (seven["leads"], seven["handed_off"], seven["converted"], seven["average_deal_value"]) == (
        3,
        2,
        2,
        Decimal("3000.00"),
    )
    empty = conversion["by_score"][0]
    assert (empty["leads"], empty["conversion_rate"], empty["interval"], empty["average_deal_value"]) == (
        0,
        None,
        None,
        None,
    )
    bands = {band["band"]: band for band in conversion["bands"]}
    assert list(bands) == ["1–4", "5–6", "7–8", "9–10"]
    assert (bands["7–8"]["converted"], bands["9–10"]["resolved"]) == (2, 10)


def test_the_threshold_what_if_estimates_from_the_observed_rates_and_says_so():
    from decimal import Decimal

    for _ in range(4):
        closed(8, "convertido", Decimal("5000"))
    for _ in range(4):
        closed(8, "perdido")
    for _ in range(6):  # scored 6, below the threshold: nobody handed off, so no rate to use
        lead(at(3, 11), score=6)
    what_if = metrics_collect(PERIOD, what_if=6)["conversion"]["what_if"]
    assert what_if["threshold"] == 6 and what_if["estimate"] is True
    assert what_if["handoffs_per_day"] == 14 / 7  # every lead scored 6 or more, over the 7 days
    assert what_if["expected_conversions"] == 4.0  # 8 leads × 50%; the six 6s have no observed rate
    assert what_if["expected_revenue"] == Decimal("20000.00")
    assert what_if["leads_without_observed_rate"] == 6


def test_the_metrics_api_takes_a_what_if_threshold_and_refuses_one_out_of_range(api):
    assert api.get("/api/v1/metrics/?what_if=5").json()["conversion"]["what_if"]["threshold"] == 5
    assert "what_if" in api.get("/api/v1/metrics/?what_if=11").json()


def test_conversion_shows_the_same_figures_on_the_dashboard_in_the_api_and_in_the_csv(manager, api, settings):
    from decimal import Decimal

    from dashboard.presenters import percent

    for index in range(25):  # enough resolved for a rate with its interval
        owner = lead(timezone.now() - timedelta(hours=2), score=8, status="convertido" if index < 15 else "perdido")
        handoff(owner, score=8, outcome=owner.status, deal_value=Decimal("1000") if index < 15 else None)
    small = lead(timezone.now() - timedelta(hours=2), score=10, status="convertido")
    handoff(small, score=10, outcome="convertido")
    api_row = api.get("/api/v1/metrics/").json()["conversion"]["by_score"][7]
    assert (api_row["resolved"], api_row["converted"], api_row["conversion_rate"]) == (25, 15, 0.6)
    page = manager.get("/dashboard/?range=30d&what_if=8").content.decode()
    low, high = (percent(api_row["interval"][end]) for end in ("low", "high"))
    assert f"60,0% ({low}–{high})" in page and low.startswith("40,") and high.startswith("76,")
    assert "1 de 1 (poucos dados)" in page  # a score 10 handed off once: counts, not "100%"
    assert "R$ 15.000,00" in page and "R$ 1.000,00" in page
    assert "com limiar 8" in page
    rows = read_csv(manager.get("/dashboard/conversao.csv?range=30d"))
    assert rows[0][:3] == ["tabela", "linha", "leads"]
    assert rows[8][:7] == ["nota", "8", "25", "25", "25", "15", "0,6"]
    assert rows[8][9:] == ["15000.00", "1000.00"]
    band = next(row for row in rows if row[:2] == ["faixa", "7–8"])
    assert band[2:7] == ["25", "25", "25", "15", "0,6"]
    agent = next(row for row in rows if row[:2] == ["Por agente", "Ana Paula"])
    assert agent[2:7] == ["", "26", "26", "16", "0,6153846153846154"]  # a cut counts handoffs, not leads
    assert agent[9] == "15000.00"


def test_conversion_is_cut_by_agent_inbox_area_code_and_interest():
    from decimal import Decimal

    from handoff.models import ChatwootInbox

    ChatwootInbox.objects.create(id=5, name="Loja Rio", kind="evolution", channel_type="Channel::Api")
    rows = [  # (phone, interest, agent, inbox, outcome, value)
        ("+5521998000001", "Usina", (11, "Ana Paula"), 5, "convertido", Decimal("50000")),
        ("+5521998000002", "Usina", (11, "Ana Paula"), 5, "perdido", None),
        ("+5511998000003", "Casa", (12, "Bruno"), 1, "convertido", Decimal("9000")),
    ]
    for phone, interest, agent, inbox, outcome, value in rows:
        owner = lead(at(1, 10), score=8, status=outcome)
        Lead.objects.filter(pk=owner.pk).update(phone=phone, interest=interest)
        handoff(owner, agent=agent, inbox_id=inbox, score=8, outcome=outcome, deal_value=value)
    conversion = metrics_collect(PERIOD)["conversion"]
    ana = conversion["agents"][0]
    assert (ana["label"], ana["handed_off"], ana["converted"], ana["conversion_rate"]) == ("Ana Paula", 2, 1, 0.5)
    assert ana["small"] and ana["revenue"] == Decimal("50000.00")
    assert [(r["label"], r["handed_off"]) for r in conversion["inboxes"]] == [("Loja Rio", 2), ("—", 1)]
    assert [(r["label"], r["converted"]) for r in conversion["area_codes"]] == [("11 (SP)", 1), ("21 (RJ)", 1)]
    assert {r["label"]: r["handed_off"] for r in conversion["interests"]} == {"Usina": 2, "Casa": 1}


def interest_handoffs(*interests: str) -> None:
    for interest in interests:
        owner = lead(at(1, 10), score=8, status="convertido")
        Lead.objects.filter(pk=owner.pk).update(interest=interest)
        handoff(owner, score=8, outcome="convertido")


def test_interests_are_grouped_whatever_their_case_accents_and_spacing():
    interest_handoffs("Energia solar", "Energia solar", "energia  SOLAR ", "Enérgia solar", "Usina", "")
    interests = metrics_collect(PERIOD)["conversion"]["interests"]
    assert [(row["label"], row["handed_off"], row["converted"]) for row in interests] == [
        ("Energia solar", 4, 4),  # the most handed-off spelling names the group
        ("Usina", 1, 1),
        ("—", 1, 1),
    ]


def test_interests_are_counted_under_the_first_keyword_they_contain(settings):
    settings.DASHBOARD_INTEREST_KEYWORDS = ["usina", "residencial"]
    interest_handoffs("Usina para empresa", "Quero uma USINA residencial", "Energia solar residencial", "Bateria")
    interests = metrics_collect(PERIOD)["conversion"]["interests"]
    assert [(row["label"], row["handed_off"]) for row in interests] == [
        ("usina", 2),
        ("Bateria", 1),
        ("residencial", 1),
    ]


def test_interests_beyond_the_ten_most_handed_off_are_summed_as_outros():
    for index in range(12):
        owner = lead(at(1, 10), score=8, status="perdido")
        Lead.objects.filter(pk=owner.pk).update(interest=f"Interesse {index:02d}")
        handoff(owner, score=8, outcome="perdido")
    interest_handoffs("Outros", "outros ")  # a lead's own "outros" joins the others
    interests = metrics_collect(PERIOD)["conversion"]["interests"]
    assert len(interests) == 11 and interests[-1]["label"] == "outros" and interests[-1]["handed_off"] == 4
    assert [row["label"] for row in interests].count("outros") == 1
