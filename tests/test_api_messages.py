"""Appending bot and lead messages to a lead's transcript."""

from datetime import datetime

import pytest

from leads.models import BotConversation, Message
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead():
    return LeadFactory()


def messages_url(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/messages/"


def test_one_message_is_stored_in_the_open_conversation(api, lead):
    response = api.post(messages_url(lead), {"sender": "lead", "content": "Oi, quero um orçamento"}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1
    conversation = BotConversation.objects.get(lead=lead)
    assert conversation.messages_count == 1
    assert conversation.last_message_at == Message.objects.get().created_at


def test_a_list_keeps_count_and_last_message_time_right(api, lead):
    body = [
        {"sender": "lead", "content": "Oi", "created_at": "2026-11-20T10:00:00-03:00", "external_id": "m1"},
        {"sender": "bot", "content": "Olá!", "created_at": "2026-11-20T10:00:05-03:00", "external_id": "m2"},
    ]
    assert api.post(messages_url(lead), body, format="json").status_code == 201
    older = [{"sender": "lead", "content": "Atrasada", "created_at": "2026-11-20T09:00:00-03:00"}]
    api.post(messages_url(lead), older, format="json")
    conversation = BotConversation.objects.get(lead=lead)
    assert conversation.messages_count == 3
    assert conversation.last_message_at == datetime.fromisoformat("2026-11-20T10:00:05-03:00")


def test_a_repeated_external_id_is_ignored(api, lead):
    message = {"sender": "bot", "content": "Olá!", "external_id": "wamid.123"}
    api.post(messages_url(lead), message, format="json")
    response = api.post(messages_url(lead), [message, {**message, "external_id": "wamid.124"}], format="json")
    assert response.status_code == 201
    assert (response.json()["created"], response.json()["ignored"]) == (1, 1)
    assert BotConversation.objects.get(lead=lead).messages_count == 2


def test_a_batch_repeating_itself_stores_each_external_id_once(api, lead):
    message = {"sender": "bot", "content": "Olá!", "external_id": "dup"}
    response = api.post(messages_url(lead), [message, message], format="json")
    assert (response.json()["created"], response.json()["ignored"]) == (1, 1)


def test_two_leads_may_use_the_same_external_id(api, lead):
    other = LeadFactory()
    message = {"sender": "bot", "content": "Olá!", "external_id": "msg-1"}
    assert api.post(messages_url(lead), message, format="json").json()["created"] == 1
    assert api.post(messages_url(other), message, format="json").json()["created"] == 1
    assert Message.objects.filter(external_id="msg-1").count() == 2


def test_an_external_id_is_known_across_the_leads_conversations(api, lead):
    message = {"sender": "bot", "content": "Olá!", "external_id": "msg-1"}
    api.post(messages_url(lead), message, format="json")
    BotConversation.objects.filter(lead=lead).update(status=BotConversation.Status.CLOSED)
    assert api.post(messages_url(lead), message, format="json").json()["ignored"] == 1


def test_all_repeats_answer_200(api, lead):
    message = {"sender": "bot", "content": "Olá!", "external_id": "x1"}
    api.post(messages_url(lead), message, format="json")
    response = api.post(messages_url(lead), message, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 0


def test_messages_after_a_closed_conversation_start_a_new_one(api, lead):
    BotConversation.objects.create(lead=lead, status=BotConversation.Status.CLOSED)
    api.post(messages_url(lead), {"sender": "lead", "content": "Voltei!"}, format="json")
    assert lead.conversations.count() == 2
    assert lead.conversations.get(status="active").messages_count == 1


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"sender": "agent", "content": "Oi"}, "sender"),
        ({"sender": "robô", "content": "Oi"}, "sender"),
        ({"content": "Oi"}, "sender"),
        ({"sender": "bot"}, "content"),
        ({"sender": "bot", "content": "   "}, "content"),
        ({"sender": "bot", "content": "a" * (64 * 1024 + 1)}, "content"),
        ({"sender": "bot", "content": "ç" * (32 * 1024 + 1)}, "content"),  # 64 KB counted in UTF-8 bytes
        ({"sender": "bot", "content": "Oi", "created_at": "ontem"}, "created_at"),
        ({"sender": "bot", "content": 42}, "content"),
        ({"sender": "bot", "content": ["Oi"]}, "content"),
    ],
)
def test_a_bad_message_is_a_400_naming_the_field_and_writes_nothing(api, lead, message, field):
    good = {"sender": "bot", "content": "Válida"}
    response = api.post(messages_url(lead), [good, message], format="json")
    assert response.status_code == 400
    assert field in response.json()["1"]  # errors are keyed by the message's position
    assert Message.objects.count() == 0


def test_content_of_exactly_64_kb_is_accepted(api, lead):
    response = api.post(messages_url(lead), {"sender": "bot", "content": "a" * 64 * 1024}, format="json")
    assert response.status_code == 201


def test_an_empty_list_is_a_400(api, lead):
    assert api.post(messages_url(lead), [], format="json").status_code == 400


def test_too_many_messages_in_one_request_is_a_400(api, lead):
    body = [{"sender": "bot", "content": "Oi"}] * 1001
    assert api.post(messages_url(lead), body, format="json").status_code == 400


def test_unknown_lead_is_a_404(api):
    url = "/api/v1/leads/00000000-0000-4000-8000-000000000000/messages/"
    response = api.post(url, {"sender": "bot", "content": "Oi"}, format="json")
    assert response.status_code == 404


# --- reading the transcript ------------------------------------------------------------------------------


@pytest.fixture
def transcript(lead):
    """A bot phase, then a human phase in Chatwoot: the bot's conversation (closed) and the handed-off one."""
    from datetime import timedelta

    from django.utils import timezone

    from handoff.models import Handoff
    from tests.factories import BotConversationFactory, MessageFactory

    start = timezone.now() - timedelta(hours=1)
    handoff = Handoff.objects.create(lead=lead, trigger=Handoff.Trigger.API, score=9, reason="Pedido do Atlas Nexa")
    first = BotConversationFactory(lead=lead, status=BotConversation.Status.CLOSED)
    second = BotConversationFactory(lead=lead)
    rows = [
        (first, "lead", "Oi, quero energia solar", "", None, None),
        (first, "bot", "Olá! Qual o valor da conta?", "", None, None),
        (second, "agent", "Sou a Ana, do comercial.", "Ana Costa", "chatwoot:9001", handoff),
        (second, "lead", "Oi Ana!", "", "chatwoot:9002", handoff),
        (second, "bot", "Resposta do número da empresa", "", "chatwoot:9003", handoff),
    ]
    return [
        MessageFactory(
            conversation=conversation,
            sender=sender,
            content=content,
            agent_name=agent_name,
            external_id=external_id,
            handoff=owner,
            created_at=start + timedelta(minutes=index),
        )
        for index, (conversation, sender, content, agent_name, external_id, owner) in enumerate(rows)
    ]


def test_the_transcript_reads_every_phase_oldest_first_with_who_wrote_and_where_from(api, lead, transcript):
    response = api.get(messages_url(lead))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(m["sender"], m["content"]) for m in results] == [(m.sender, m.content) for m in transcript]
    agent = results[2]
    assert agent["agent_name"] == "Ana Costa" and agent["chatwoot_message_id"] == 9001
    assert agent["handoff"] == str(transcript[2].handoff_id) and agent["conversation"] == transcript[2].conversation_id
    assert results[0]["agent_name"] is None and results[0]["chatwoot_message_id"] is None
    assert results[0]["handoff"] is None
    assert results[3]["agent_name"] is None  # only agents' messages name their author


def test_the_transcript_is_paged_by_cursor_without_repeats(api, lead, transcript):
    first = api.get(messages_url(lead), {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    seen = [m["id"] for page in (first, second, third) for m in page["results"]]
    assert seen == [m.pk for m in transcript] and third["next"] is None


def test_a_client_follows_the_transcript_after_the_last_message_it_has(api, lead, transcript):
    after = api.get(messages_url(lead), {"after": transcript[1].pk}).json()["results"]
    assert [m["id"] for m in after] == [m.pk for m in transcript[2:]]
    since = api.get(messages_url(lead), {"after": transcript[3].created_at.isoformat()}).json()["results"]
    assert [m["id"] for m in since] == [transcript[4].pk]
    assert api.get(messages_url(lead), {"after": transcript[4].pk}).json()["results"] == []


@pytest.mark.parametrize("after", ["999999", "ontem", "2026-13-45T99:00"])
def test_an_after_that_is_not_a_message_of_this_lead_or_a_time_is_a_400(api, lead, transcript, after):
    response = api.get(messages_url(lead), {"after": after})
    assert response.status_code == 400 and "after" in response.json()


def test_another_leads_message_is_not_an_after(api, lead, transcript):
    from tests.factories import MessageFactory

    response = api.get(messages_url(lead), {"after": MessageFactory().pk})
    assert response.status_code == 400 and "after" in response.json()


def test_a_bad_cursor_or_an_unknown_parameter_is_a_400(api, lead, transcript):
    assert api.get(messages_url(lead), {"cursor": "nada"}).json() == {"cursor": ["Cursor inválido."]}
    assert api.get(messages_url(lead), {"desde": "1"}).status_code == 400


def test_a_staff_session_with_view_permission_reads_the_transcript(admin_client, lead, transcript):
    response = admin_client.get(messages_url(lead))
    assert response.status_code == 200 and len(response.json()["results"]) == len(transcript)


def test_an_unknown_leads_transcript_is_a_404(api):
    assert api.get("/api/v1/leads/5b3c4a86-6d0e-4b7e-9a39-7d4f1c2e0a11/messages/").status_code == 404


def test_a_message_stored_late_still_comes_to_a_client_following_by_id(api, lead, transcript):
    """Mirrored from Chatwoot after a delay, its time is older than the last message the client has."""
    from tests.factories import MessageFactory

    late = MessageFactory(conversation=transcript[-1].conversation, created_at=transcript[0].created_at)
    after = api.get(messages_url(lead), {"after": transcript[-1].pk}).json()["results"]
    assert [m["id"] for m in after] == [late.pk]


def test_atlas_cannot_use_chatwoots_id_prefix_and_a_foreign_one_reads_as_no_chatwoot_id(api, lead):
    response = api.post(
        messages_url(lead), {"sender": "bot", "content": "oi", "external_id": "chatwoot:77"}, format="json"
    )
    assert response.status_code == 400 and "external_id" in response.json()
    from tests.factories import MessageFactory

    MessageFactory(conversation__lead=lead, external_id="chatwoot:abc")
    assert api.get(messages_url(lead)).json()["results"][0]["chatwoot_message_id"] is None


def test_an_after_of_unicode_digits_is_a_400_not_a_500(api, lead, transcript):
    assert api.get(messages_url(lead), {"after": "²"}).status_code == 400
