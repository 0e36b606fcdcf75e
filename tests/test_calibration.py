"""The calibration sample: which leads are drawn (seeded, known answers), their handoff and its Chatwoot label, and
the dashboard, metrics API and CSV showing them apart from every other figure."""

import hashlib
import random
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.checks import Error
from django.utils import timezone

from dashboard.presenters import percent
from dashboard.selectors import metrics_collect
from handoff.checks import handoff_settings_check
from handoff.models import Handoff, HandoffEvent
from leads import services as lead_services
from leads.calibration import calibration_drawn, calibration_scores
from leads.models import Lead
from leads.phones import phone_parse
from outbound.models import EventType, OutboundEvent, Subscription
from tests.test_dashboard import PERIOD, at, handoff, lead, read_csv
from tests.test_handoff_pipeline import chatwoot_rows, private_notes, settle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sample_half(settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    settings.HANDOFF_CALIBRATION_SHARE = 0.5


def drawn_by_hand(lead_id: uuid.UUID, share: float) -> bool:
    """The draw as documented, computed here on its own: the first 8 bytes of sha256("calibration:<id>")."""
    value = int(hashlib.sha256(f"calibration:{lead_id}".encode()).hexdigest()[:16], 16)
    return value / 2**64 < share


def seeded_ids(count: int, seed: int = 2026) -> list[uuid.UUID]:
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]


# --- the draw -------------------------------------------------------------------------------------------------


def test_the_draw_takes_its_share_of_the_scores_just_below_the_threshold_and_only_those(settings):
    settings.HANDOFF_CALIBRATION_SHARE = 0.05
    ids = seeded_ids(20_000)
    drawn = [lead_id for lead_id in ids if calibration_drawn(Lead(id=lead_id, qualification_score=6))]
    assert drawn == [lead_id for lead_id in ids if drawn_by_hand(lead_id, 0.05)]
    assert 860 <= len(drawn) <= 1140  # 5% of 20,000 within 4.5 standard deviations of the binomial
    assert calibration_scores() == range(5, 7)
    for score in (None, 1, 4, 7, 10):
        assert not any(calibration_drawn(Lead(id=lead_id, qualification_score=score)) for lead_id in drawn)
    settings.HANDOFF_SCORE_THRESHOLD = 9  # the band moves with the threshold
    assert calibration_drawn(Lead(id=drawn[0], qualification_score=8))
    assert not calibration_drawn(Lead(id=drawn[0], qualification_score=6))


def test_the_same_lead_draws_the_same_whatever_its_score_in_the_band_and_the_share_decides():
    ids = seeded_ids(200, seed=7)
    for lead_id in ids:
        five, six = (calibration_drawn(Lead(id=lead_id, qualification_score=score)) for score in (5, 6))
        assert five == six == drawn_by_hand(lead_id, 0.5)
    assert 70 <= sum(drawn_by_hand(lead_id, 0.5) for lead_id in ids) <= 130


def test_a_share_of_zero_draws_nobody_and_one_draws_everyone(settings):
    ids = seeded_ids(300, seed=3)
    settings.HANDOFF_CALIBRATION_SHARE = 0
    assert not any(calibration_drawn(Lead(id=lead_id, qualification_score=6)) for lead_id in ids)
    settings.HANDOFF_CALIBRATION_SHARE = 1
    assert all(calibration_drawn(Lead(id=lead_id, qualification_score=5)) for lead_id in ids)


def test_a_share_outside_0_to_1_stops_the_start(settings):
    settings.HANDOFF_CALIBRATION_SHARE = 5  # meant 5%
    [problem] = [p for p in handoff_settings_check(None) if p.id == "handoff.E004"]
    assert isinstance(problem, Error) and "between 0 (off) and 1" in problem.hint
    settings.HANDOFF_CALIBRATION_SHARE = 0.05
    assert not [p for p in handoff_settings_check(None) if p.id == "handoff.E004"]


# --- the handoff ---------------------------------------------------------------------------------------------


def scored(phone: str, score: int) -> Lead:
    lead, _ = lead_services.lead_upsert(phone=phone_parse(phone), data={"qualification_score": score})
    return lead


def test_exactly_the_drawn_leads_scored_just_below_are_handed_off_as_the_sample():
    leads = [scored(f"+55119870{index:05d}", 5 + index % 2) for index in range(120)]
    sampled = set(Handoff.objects.filter(sample=True).values_list("lead_id", flat=True))
    assert sampled == set(Handoff.objects.filter(trigger=Handoff.Trigger.SAMPLE).values_list("lead_id", flat=True))
    assert sampled == {lead.pk for lead in leads if drawn_by_hand(lead.pk, 0.5)}
    assert 30 <= len(sampled) <= 90
    assert Handoff.objects.exclude(trigger=Handoff.Trigger.SAMPLE).count() == 0
    one = Handoff.objects.filter(trigger=Handoff.Trigger.SAMPLE).select_related("lead").first()
    assert one.reason == f"Amostra de calibração: nota {one.lead.qualification_score}, abaixo do limiar 7"
    assert one.lead.status == Lead.Status.NOVO  # not qualified: it becomes "with an agent" when the handoff ends
    assert Lead.objects.get(pk=one.lead_id).status == Lead.Status.NOVO


def drawn_lead(phone: str = "+5511987650000", score: int = 6) -> Lead:
    """A lead the draw takes: created unscored, then scored (the phones tried are fixed, the ids random)."""
    for index in range(200):
        candidate, _ = lead_services.lead_upsert(phone=phone_parse(f"{phone[:-3]}{index:03d}"), data={})
        if drawn_by_hand(candidate.pk, 0.5):
            return scored(candidate.phone, score)
    raise AssertionError("no lead drawn in 200 tries at 50%")


def test_a_drawn_lead_gets_one_chance_however_often_it_is_scored():
    lead = drawn_lead()
    sample = lead.handoffs.get()
    assert (sample.trigger, sample.sample) == (Handoff.Trigger.SAMPLE, True)
    scored(lead.phone, 5)
    scored(lead.phone, 6)  # a replay, and a new score in the band: the handoff is active, no second
    assert lead.handoffs.count() == 1
    Handoff.objects.filter(lead=lead).update(state=Handoff.State.FAILED)
    scored(lead.phone, 5)  # its handoff failed: it was handed off once, the sample does not take it again
    assert list(lead.handoffs.values_list("state", flat=True)) == [Handoff.State.FAILED]
    assert not HandoffEvent.objects.filter(handoff__lead=lead, kind=HandoffEvent.Kind.RESUMED).exists()


@pytest.mark.parametrize("state", [Handoff.State.FAILED, Handoff.State.CANCELLED, Handoff.State.DONE])
def test_a_lead_handed_off_before_is_never_drawn(settings, state):
    settings.HANDOFF_CALIBRATION_SHARE = 1
    lead = scored("+5511987652000", 7)  # qualified: a handoff by its score
    Handoff.objects.filter(lead=lead).update(state=state)
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.NOVO, qualification_score=None)
    scored(lead.phone, 6)
    assert list(lead.handoffs.values_list("trigger", "state")) == [(Handoff.Trigger.SCORE, state)]


def test_only_a_new_score_draws_not_a_later_edit_of_the_lead(settings):
    settings.HANDOFF_CALIBRATION_SHARE = 0
    lead = scored("+5511987653000", 6)
    settings.HANDOFF_CALIBRATION_SHARE = 1  # switched on weeks later: the old lead is not drawn by an edit
    lead_services.lead_update(lead=lead, data={"name": "Só o nome"})
    lead_services.lead_upsert(phone=phone_parse(lead.phone), data={"email": "x@exemplo.com.br"})
    lead.refresh_from_db()
    lead_services.lead_admin_save(lead=lead, changed_fields=["name"])
    assert not lead.handoffs.exists()
    lead_services.lead_upsert(phone=phone_parse(lead.phone), data={"qualification_score": 6})  # the same score
    assert not lead.handoffs.exists()
    scored(lead.phone, 5)  # Atlas scores it again: drawn
    assert lead.handoffs.get().sample


def test_the_sample_stays_the_sample_when_handed_off_again_by_hand_or_when_the_lead_comes_back(admin_user):
    from handoff.services import handoff_trigger_admin
    from handoff.services.lifecycle import handoff_create

    lead = drawn_lead()
    Handoff.objects.filter(lead=lead).update(state=Handoff.State.FAILED)
    again = handoff_trigger_admin(lead=lead, user=admin_user)  # resumed: nothing reached Chatwoot yet
    assert (again.trigger, again.sample) == (Handoff.Trigger.ADMIN, True)
    Handoff.objects.filter(lead=lead).update(state=Handoff.State.DONE, contact_id=9, conversation_id=9)
    back = handoff_create(lead=lead, trigger=Handoff.Trigger.RETURNED, returned=(9, 10))
    assert back.pk != again.pk and (back.trigger, back.sample) == (Handoff.Trigger.RETURNED, True)
    Handoff.objects.filter(pk=back.pk).update(state=Handoff.State.DONE)
    lead_services.lead_upsert(phone=phone_parse(lead.phone), data={"qualification_score": 8})
    qualified = lead.handoffs.order_by("-created_at").first()  # Atlas qualified it: no longer the sample
    assert (qualified.trigger, qualified.sample) == (Handoff.Trigger.SCORE, False)


def test_a_sample_handoff_resumed_because_atlas_qualified_the_lead_leaves_the_sample():
    lead = drawn_lead()
    # It failed after its conversation was made: resumed as it was (its note may be in Chatwoot), but not the sample.
    Handoff.objects.filter(lead=lead).update(state=Handoff.State.FAILED, contact_id=9, conversation_id=9)
    scored(lead.phone, 8)
    [resumed] = lead.handoffs.all()
    assert (resumed.state, resumed.trigger, resumed.sample) == (Handoff.State.QUEUED, Handoff.Trigger.SAMPLE, False)


def test_a_drawn_lead_scored_at_the_threshold_while_with_an_agent_comes_back_outside_the_sample():
    from handoff.services.lifecycle import handoff_create

    lead = drawn_lead()
    Handoff.objects.filter(lead=lead).update(state=Handoff.State.DONE, contact_id=9, conversation_id=9)
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.HANDED_OFF)
    scored(lead.phone, 8)  # with an agent: no new handoff, the score is kept
    lead.refresh_from_db()
    back = handoff_create(lead=lead, trigger=Handoff.Trigger.RETURNED, returned=(9, 10))
    assert (back.trigger, back.sample, back.score) == (Handoff.Trigger.RETURNED, False, 8)


def test_a_lead_scored_at_the_threshold_is_qualified_as_ever_and_an_undrawn_one_stays_with_the_bot(settings):
    settings.HANDOFF_CALIBRATION_SHARE = 1
    assert scored("+5511987651000", 7).handoffs.get().trigger == Handoff.Trigger.SCORE
    settings.HANDOFF_CALIBRATION_SHARE = 0
    assert not scored("+5511987651001", 6).handoffs.exists()


def test_the_sample_queues_a_handoff_for_atlas_but_never_says_the_lead_qualified(receiver):
    Subscription.objects.create(name="n8n", url=receiver.url, secrets=receiver.secret)
    lead = drawn_lead()
    events = list(OutboundEvent.objects.filter(lead=lead).values_list("type", "body"))
    assert [kind for kind, _ in events] == [EventType.HANDOFF_QUEUED]
    assert '"trigger": "sample"' in events[0][1] and '"bot_should_reply": false' in events[0][1]


def test_the_sample_is_labelled_and_introduced_as_such_in_chatwoot(chatwoot):
    lead = drawn_lead()
    assert settle(lead).state == Handoff.State.DONE
    [conversation] = chatwoot_rows(chatwoot)["conversations"]
    assert conversation["labels"] == ["lead-qualificado", "atlas-nexa", "amostra-calibracao"]
    [note] = private_notes(chatwoot)
    assert note["content"].startswith("**Amostra de calibração do Atlas Nexa**")
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.HANDED_OFF


def test_the_lead_api_names_the_sample_trigger(api):
    lead = drawn_lead()
    body = api.get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["handoff"]["trigger"] == "sample" and body["handoff"]["sample"] is True
    assert body["bot_should_reply"] is False


def test_atlas_trigger_for_a_sampled_lead_says_the_handoff_is_queued(api, settings):
    settings.HANDOFF_CALIBRATION_SHARE = 1
    response = api.post(
        "/api/v1/handoffs/",
        {"id": "a1", "name": "Ana", "phone": "+5511987654000", "qualification_score": 6},
        format="json",
    )
    body = response.json()
    assert (response.status_code, body["reason"], body["handoff"]["trigger"]) == (202, "queued", "sample")
    assert body["lead"]["bot_should_reply"] is False
    settings.HANDOFF_CALIBRATION_SHARE = 0
    response = api.post(
        "/api/v1/handoffs/",
        {"id": "a2", "name": "Bia", "phone": "+5511987654001", "qualification_score": 6},
        format="json",
    )
    assert (response.status_code, response.json()["reason"], response.json()["handoff"]) == (
        200,
        "below_threshold",
        None,
    )


# --- the dashboard -------------------------------------------------------------------------------------------


def sample_handoff(score: int, outcome: str, value=None, **fields) -> Handoff:
    return regular_handoff(score, outcome, value, trigger=Handoff.Trigger.SAMPLE, sample=True, **fields)


def regular_handoff(score: int, outcome: str, value=None, **fields) -> Handoff:
    owner = fields.pop("lead", None) or lead(at(1, 10), score=score, status=outcome)
    resolved = owner.created_at + timedelta(hours=3)
    return handoff(owner, score=score, outcome=outcome, deal_value=value, resolved_at=resolved, **fields)


def known_sample():
    """Scores 6: 4 sampled (3 converted at R$ 2.000, 1 lost) and 1 handed off by hand (lost), 5 left with the bot;
    score 8: 2 regular handoffs, both converted at R$ 10.000."""
    for _ in range(3):
        sample_handoff(6, "convertido", Decimal("2000"), reply_after=timedelta(hours=2))
    sample_handoff(6, "perdido", reply_after=timedelta(hours=2))
    regular_handoff(6, "perdido", trigger=Handoff.Trigger.ADMIN, reply_after=timedelta(minutes=1))
    for _ in range(5):
        lead(at(2, 10), score=6)
    for _ in range(2):
        regular_handoff(8, "convertido", Decimal("10000"), reply_after=timedelta(minutes=1))


def test_the_sample_is_counted_apart_from_the_scores_the_funnel_the_cuts_and_the_agents(settings):
    settings.HANDOFF_SLA_MINUTES = 5
    known_sample()
    for sample in (True, False):
        escalated = Handoff.objects.filter(sample=sample).first()
        HandoffEvent.objects.create(
            handoff=escalated, kind="escalated", message="x", data={"from_agent": 11}, created_at=at(1, 11)
        )
    metrics = metrics_collect(PERIOD)
    conversion = metrics["conversion"]
    six = conversion["by_score"][5]
    assert (six["leads"], six["handed_off"], six["resolved"], six["converted"]) == (10, 1, 1, 0)
    assert conversion["calibration"]["share"] == 0.5 and conversion["calibration"]["label"] == "amostra-calibracao"
    assert [row["score"] for row in conversion["calibration"]["by_score"]] == [5, 6]
    sampled_six = conversion["calibration"]["by_score"][1]
    assert (sampled_six["leads"], sampled_six["handed_off"], sampled_six["resolved"], sampled_six["converted"]) == (
        10,
        4,
        4,
        3,
    )
    assert sampled_six["conversion_rate"] == 0.75 and sampled_six["small"]
    assert (sampled_six["revenue"], sampled_six["average_deal_value"]) == (Decimal("6000.00"), Decimal("2000.00"))
    assert conversion["calibration"]["by_score"][0]["handed_off"] == 0  # a score the sample draws from, none yet
    bands = {band["band"]: band for band in conversion["bands"]}
    assert bands["5–6"]["handed_off"] == 1
    assert sum(row["handed_off"] for row in conversion["agents"]) == 3  # the admin's and the two 8s
    assert sum(row["handed_off"] for row in conversion["interests"]) == 3
    [ana] = metrics["agents"]
    assert (ana["handled"], ana["resolved"], ana["converted"], ana["sla_met"], ana["sla_due"]) == (3, 3, 2, 3, 3)
    assert ana["escalations"] == 1
    funnel = {step["step"]: step["count"] for step in metrics["funnel"]}
    assert (funnel["handed_off"], funnel["replied"], funnel["converted"]) == (3, 3, 2)  # the sample's 3 left out


def test_the_funnel_takes_out_only_the_conversions_the_sample_alone_brought():
    converted_then_lost = sample_handoff(6, "convertido")  # came back through Chatwoot, and was lost then
    regular_handoff(6, "perdido", trigger=Handoff.Trigger.RETURNED, sample=True, lead=converted_then_lost.lead)
    Lead.objects.filter(pk=converted_then_lost.lead_id).update(status=Lead.Status.PERDIDO)
    twice = sample_handoff(6, "convertido")  # then Atlas qualified it, and it converted again outside the sample
    regular_handoff(8, "convertido", lead=twice.lead)
    sample_handoff(5, "convertido")  # converted through the sample only
    funnel = {step["step"]: step["count"] for step in metrics_collect(PERIOD)["funnel"]}
    assert (funnel["handed_off"], funnel["converted"]) == (1, 1)


def test_the_what_if_takes_the_samples_rate_below_the_threshold():
    known_sample()
    what_if = metrics_collect(PERIOD, what_if=6)["conversion"]["what_if"]
    # Score 6: 10 leads × the sample's 75% (the admin's one lost handoff was chosen, not drawn), at R$ 2.000;
    # score 8: 2 leads × 100% at R$ 10.000.
    assert what_if["scores_from_sample"] == [6]
    assert what_if["expected_conversions"] == 9.5
    assert what_if["expected_revenue"] == Decimal("35000.00")
    assert what_if["handoffs_per_day"] == 12 / 7


def test_with_the_sample_off_its_past_handoffs_are_still_shown_apart(settings, manager):
    settings.HANDOFF_CALIBRATION_SHARE = 0
    sample_handoff(4, "perdido")
    calibration = metrics_collect(PERIOD)["conversion"]["calibration"]
    assert calibration["share"] == 0
    assert [(row["score"], row["handed_off"]) for row in calibration["by_score"]] == [(4, 1)]
    page = manager.get(f"/dashboard/?from={PERIOD.first_day}&to={PERIOD.last_day}").content.decode()
    assert "desligada agora (HANDOFF_CALIBRATION_SHARE)" in page and "0,0% deles" not in page


def test_the_dashboard_says_which_scores_the_estimate_took_from_the_sample(manager):
    known_sample()
    page = manager.get(f"/dashboard/?from={PERIOD.first_day}&to={PERIOD.last_day}&what_if=6").content.decode()
    assert "cerca de 9,5 conversões (R$ 35.000,00); nota 6 pela amostra de calibração." in page
    assert "transferidos ao acaso (50,0% deles" in page
    assert 'Nota 6</td><td class="num">10</td><td class="num">4</td>' in page  # the sample's own row


def test_the_sample_shows_the_same_figures_on_the_dashboard_in_the_api_and_in_the_csv(manager, api):
    for index in range(22):  # enough resolved for a rate with its interval
        owner = lead(timezone.now() - timedelta(hours=2), score=6, status="convertido" if index < 11 else "perdido")
        handoff(owner, score=6, outcome=owner.status, trigger=Handoff.Trigger.SAMPLE, sample=True)
    api_row = api.get("/api/v1/metrics/").json()["conversion"]["calibration"]["by_score"][1]
    assert (api_row["score"], api_row["handed_off"], api_row["converted"], api_row["conversion_rate"]) == (
        6,
        22,
        11,
        0.5,
    )
    page = manager.get("/dashboard/?range=30d").content.decode()
    assert "Amostra de calibração" in page and "“amostra-calibracao”" in page
    low, high = (api_row["interval"][end] for end in ("low", "high"))
    assert f"50,0% ({percent(low)}–{percent(high)})" in page
    rows = read_csv(manager.get("/dashboard/conversao.csv?range=30d"))
    [sample_row] = [row for row in rows if row[0] == "amostra de calibração" and row[1] == "6"]
    assert sample_row[2:7] == ["22", "22", "22", "11", "0,5"]
    score_six = next(row for row in rows if row[0] == "nota" and row[1] == "6")
    assert score_six[2:5] == ["22", "0", "0"]  # the same leads, none handed off outside the sample
