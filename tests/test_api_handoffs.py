"""The endpoint Atlas Nexa's handoff trigger calls, with the trigger's exact payloads."""

import json
from pathlib import Path

import pytest

from leads.models import Lead, Message

pytestmark = pytest.mark.django_db

URL = "/api/v1/handoffs/"
FIXTURES = Path(__file__).parent / "fixtures" / "atlas"


def trigger(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_text_history_trigger_upserts_the_lead_and_its_transcript(api):
    response = api.post(URL, trigger("trigger_text_history.json"), format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["reason"] == "queued"
    assert body["handoff"]["state"] == "queued"
    assert body["handoff"]["trigger"] == "api"
    assert body["lead"]["handoff"]["id"] == body["handoff"]["id"]
    assert body["lead"]["external_id"] == "lead_8f3a2c91"
    assert body["lead"]["phone"] == "+5511987654321"
    assert body["lead"]["status"] == "qualificado"
    assert body["messages_created"] == 4
    contents = list(Message.objects.order_by("id").values_list("sender", "content"))
    assert contents[2] == ("lead", "Para a minha loja em Pinheiros.\nA conta passa de R$ 4.800 por mês.")
    assert [sender for sender, _ in contents] == ["lead", "bot", "lead", "bot"]


def test_list_history_trigger_keeps_message_times(api):
    response = api.post(URL, trigger("trigger_list_history.json"), format="json")
    assert response.status_code == 202
    lead = Lead.objects.get(external_id="lead_51c0d7e4")
    assert lead.phone == "+5521998123456"
    conversation = lead.conversations.get()
    assert conversation.messages_count == 4
    assert conversation.last_message_at.isoformat() == "2026-11-20T17:03:44+00:00"


def test_repeating_the_trigger_adds_nothing(api):
    payload = trigger("trigger_text_history.json")
    first = api.post(URL, payload, format="json").json()
    response = api.post(URL, payload, format="json")
    assert response.json()["handoff"]["id"] == first["handoff"]["id"]  # one handoff, not two
    assert response.json()["messages_created"] == 0
    assert response.json()["messages_ignored"] == 4
    assert Message.objects.count() == 4
    assert Lead.objects.count() == 1


def test_a_longer_history_adds_only_the_new_messages(api):
    payload = trigger("trigger_text_history.json")
    api.post(URL, payload, format="json")
    payload["bot_history"] += "\nLead: Obrigada!\nLead: Obrigada!"
    response = api.post(URL, payload, format="json")
    assert response.json()["messages_created"] == 2
    assert Message.objects.count() == 6


def test_a_repeated_line_inside_one_history_is_kept(api):
    payload = {**trigger("trigger_text_history.json"), "bot_history": "Lead: ok\nBot: certo\nLead: ok"}
    assert api.post(URL, payload, format="json").json()["messages_created"] == 3


def test_trigger_finds_the_lead_by_the_twin_spelling(api):
    api.post("/api/v1/leads/", {"name": "Mariana", "phone": "+55 11 8765-4321"}, format="json")
    response = api.post(URL, trigger("trigger_text_history.json"), format="json")
    assert response.status_code == 202
    assert Lead.objects.count() == 1


def test_trigger_without_history_is_accepted(api):
    payload = trigger("trigger_text_history.json")
    del payload["bot_history"]
    assert api.post(URL, payload, format="json").status_code == 202


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bot_history": "Fulano: oi"}, "bot_history"),
        ({"bot_history": 42}, "bot_history"),
        ({"bot_history": [{"sender": "cliente", "content": "oi"}]}, "bot_history"),
        ({"qualification_score": 15}, "qualification_score"),
        ({"phone": "sem telefone"}, "phone"),
    ],
)
def test_a_bad_trigger_is_a_400_naming_the_field_and_writes_nothing(api, change, field):
    response = api.post(URL, {**trigger("trigger_text_history.json"), **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Lead.objects.count() == 0
    assert Message.objects.count() == 0


def test_trigger_requires_an_api_key(anonymous_api):
    assert anonymous_api.post(URL, trigger("trigger_text_history.json"), format="json").status_code == 401


def test_null_optional_fields_from_the_trigger_mean_not_sent(api):
    payload = {
        "id": "lead_x1",
        "name": "Carla",
        "phone": "31999990000",
        "email": None,
        "interest": None,
        "qualification_score": None,
        "bot_history": None,
    }
    response = api.post(URL, payload, format="json")
    assert response.status_code == 200
    assert response.json()["reason"] == "below_threshold"
    assert response.json()["handoff"] is None
    assert response.json()["lead"]["email"] == ""


def test_history_items_may_carry_null_times_and_extra_keys(api):
    history = [{"sender": "lead", "content": "oi", "created_at": None, "id": 7, "channel": "whatsapp"}]
    payload = {**trigger("trigger_list_history.json"), "bot_history": history}
    assert api.post(URL, payload, format="json").json()["messages_created"] == 1


def test_a_long_text_history_is_accepted(api):
    lines = "\n".join(f"{'Bot' if i % 2 else 'Lead'}: mensagem {i}" for i in range(1500))
    payload = {**trigger("trigger_text_history.json"), "bot_history": lines}
    assert api.post(URL, payload, format="json").json()["messages_created"] == 1500


def test_a_failure_after_the_lead_was_written_leaves_nothing(api_key, monkeypatch):
    from rest_framework.test import APIClient

    from leads import services

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "history_add", broken)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    response = client.post(URL, trigger("trigger_text_history.json"), format="json")
    assert response.status_code == 500
    assert response.json() == {"detail": "Erro interno. O erro foi registrado."}
    assert Lead.objects.count() == 0


def test_the_trigger_hands_a_closed_lead_off_again_with_the_same_score(api):
    from handoff.models import Handoff
    from tests.factories import LeadFactory

    lead = LeadFactory(phone="+5511987654321", status=Lead.Status.CONVERTIDO, qualification_score=9)
    Handoff.objects.create(lead=lead, trigger="score", state=Handoff.State.DONE, score=9)
    body = api.post(URL, trigger("trigger_text_history.json"), format="json").json()
    assert (body["reason"], body["handoff"]["state"]) == ("queued", "queued")
    assert lead.handoffs.count() == 2


# Which inbox (WhatsApp number) answers: named by Evolution instance or Chatwoot inbox id (CHANNELS §5).


@pytest.fixture
def evolution_inboxes(chatwoot):
    from handoff.services.inboxes import inboxes_refresh

    ids = {name: chatwoot.add_evolution_inbox(name, number)["id"] for name, number in INSTANCES.items()}
    inboxes_refresh()
    return ids


INSTANCES = {"loja-sp": "+551140001111", "loja-rio": "+552140002222"}


def test_the_instance_atlas_names_is_where_the_handoff_goes_and_the_lead_remembers_it(api, evolution_inboxes):
    body = api.post(URL, {**trigger("trigger_text_history.json"), "instance": "loja-rio"}, format="json").json()
    assert body["handoff"]["chatwoot_inbox_id"] == body["lead"]["chatwoot_inbox_id"] == evolution_inboxes["loja-rio"]


def test_an_inbox_id_is_accepted_too(api, evolution_inboxes):
    inbox_id = evolution_inboxes["loja-sp"]
    body = api.post(URL, {**trigger("trigger_text_history.json"), "inbox_id": inbox_id}, format="json").json()
    assert body["handoff"]["chatwoot_inbox_id"] == inbox_id


@pytest.mark.parametrize(
    ("field", "value"), [("instance", "loja-bh"), ("inbox_id", 999)], ids=["unknown instance", "unknown inbox"]
)
def test_an_unknown_inbox_is_a_400_naming_the_field_and_nothing_is_written(api, evolution_inboxes, field, value):
    response = api.post(URL, {**trigger("trigger_text_history.json"), field: value}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Lead.objects.exists()


def test_an_instance_and_an_inbox_id_that_disagree_are_a_400(api, evolution_inboxes):
    payload = {**trigger("trigger_text_history.json"), "instance": "loja-sp", "inbox_id": evolution_inboxes["loja-rio"]}
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400 and "inbox_id" in response.json()


def test_lead_upserts_take_the_instance_as_well(api, evolution_inboxes):
    lead = {"phone": "(11) 98765-4321", "name": "Mariana", "instance": "loja-sp"}
    response = api.post("/api/v1/leads/", lead, format="json")
    assert response.status_code in (200, 201)
    assert response.json()["chatwoot_inbox_id"] == evolution_inboxes["loja-sp"]


def test_when_chatwoot_cannot_be_asked_about_an_unknown_instance_it_is_a_503_and_nothing_is_written(
    api, evolution_inboxes, settings
):
    from django.core.cache import cache

    cache.clear()  # the fixture's refresh no longer counts as recent
    settings.CHATWOOT_BASE_URL = "http://127.0.0.1:9"  # Chatwoot unreachable
    response = api.post(URL, {**trigger("trigger_text_history.json"), "instance": "loja-nova"}, format="json")
    assert response.status_code == 503 and response["Retry-After"]
    assert not Lead.objects.exists()


def test_an_unknown_instance_just_after_a_refresh_is_a_400_without_asking_chatwoot_again(api, evolution_inboxes):
    from handoff.models import ChatwootCall

    calls = ChatwootCall.objects.count()
    response = api.post(URL, {**trigger("trigger_text_history.json"), "instance": "loja-bh"}, format="json")
    assert response.status_code == 400 and ChatwootCall.objects.count() == calls


@pytest.mark.parametrize(
    ("field", "value"),
    [("inbox_id", "caixa-2"), ("inbox_id", 0), ("instance", "x" * 101), ("instance", 42)],
    ids=["inbox_id not a number", "inbox_id not positive", "instance too long", "instance not text"],
)
def test_a_malformed_inbox_is_a_400_naming_the_field_and_nothing_is_written(api, evolution_inboxes, field, value):
    response = api.post(URL, {**trigger("trigger_text_history.json"), field: value}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Lead.objects.exists()
