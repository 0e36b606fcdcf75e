"""Admin actions on leads and handoffs: permission-gated, confirmed first, recorded on the timeline."""

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.utils import timezone

from handoff.models import ChatwootCall, Handoff
from leads.models import Lead
from tests.chatwoot_faults import Rule
from tests.factories import LeadFactory
from tests.test_handoff_pipeline import qualified_lead, settle

pytestmark = pytest.mark.django_db

LEADS = "/admin/leads/lead/"
HANDOFFS = "/admin/handoff/handoff/"


def act(client, url, action, objects, **extra):
    return client.post(url, {"action": action, "_selected_action": [str(o.pk) for o in objects], **extra})


@pytest.fixture
def agent_client(client):
    user = User.objects.create_user("agente", is_staff=True)
    user.groups.add(Group.objects.get(name="Agents"))
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def manager_client(client):
    user = User.objects.create_user("gerente", is_staff=True)
    user.groups.add(Group.objects.get(name="Managers"))
    client.force_login(user)
    return client


def test_hand_off_now_asks_for_confirmation_first(agent_client):
    lead = LeadFactory(qualification_score=3)
    page = act(agent_client, LEADS, "handoff_now", [lead])
    assert page.status_code == 200
    assert "Sim, tenho certeza" in page.content.decode()
    assert not Handoff.objects.exists()


def test_hand_off_now_bypasses_the_threshold_and_records_who(agent_client):
    lead = LeadFactory(qualification_score=3)
    act(agent_client, LEADS, "handoff_now", [lead], post="yes")
    handoff = lead.handoffs.get()
    assert (handoff.trigger, handoff.triggered_by, handoff.state) == ("admin", agent_client.user, "queued")


def test_managers_cannot_trigger_handoffs(manager_client):
    lead = LeadFactory()
    act(manager_client, LEADS, "handoff_now", [lead], post="yes")
    assert not Handoff.objects.exists()


def test_agents_are_offered_the_handoff_actions(agent_client):
    LeadFactory()
    response = agent_client.get(LEADS)
    actions = set(response.context["cl"].model_admin.get_actions(response.wsgi_request))
    assert {"handoff_now", "handoff_retry", "handoff_reassign", "handoff_cancel"} <= actions


def test_managers_are_not_offered_handoff_actions(manager_client):
    LeadFactory()
    response = manager_client.get(LEADS)
    actions = set(response.context["cl"].model_admin.get_actions(response.wsgi_request))
    assert actions == {"export_csv"}


def test_retry_requeues_a_failed_handoff_and_keeps_its_checkpoints(agent_client, chatwoot, faults, settings):
    settings.HANDOFF_MAX_ATTEMPTS, settings.HANDOFF_STEP_RETRIES = 1, 0  # one try: the attempt fails
    faults.add(Rule("POST", r"/labels$", "status:503"))  # fails after the contact, conversation and note
    lead = qualified_lead()
    failed = settle(lead)
    assert failed.state == "failed" and failed.contact_id and failed.conversation_id and failed.note_message_ids
    checkpoints = (failed.contact_id, failed.conversation_id, failed.note_message_ids)
    calls_before = ChatwootCall.objects.count()
    act(agent_client, LEADS, "handoff_retry", [lead], post="yes")
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("queued", 0)
    assert failed.events.filter(kind="resumed").exists()
    done = settle(lead)
    assert done.state == "done" and (done.contact_id, done.conversation_id, done.note_message_ids) == checkpoints
    resumed = ChatwootCall.objects.order_by("id")[calls_before:]
    assert [(call.method, call.path) for call in resumed if call.step in ("contact", "conversation", "note")] == []


@pytest.mark.parametrize(
    ("action", "refusal"),
    [
        ("handoff_retry", "nenhuma transferência que falhou para repetir."),
        ("handoff_cancel", "nenhuma transferência em andamento para cancelar."),
    ],
)
def test_actions_say_which_leads_had_nothing_to_act_on(agent_client, chatwoot, action, refusal):
    lead = LeadFactory(name="Rafael Oliveira", qualification_score=3)
    response = act(agent_client, LEADS, action, [lead], post="yes")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"{lead}: {refusal}"]


def test_cancel_stops_a_queued_handoff(agent_client, chatwoot):
    lead = qualified_lead()
    act(agent_client, LEADS, "handoff_cancel", [lead], post="yes")
    assert lead.handoffs.get().state == "cancelled"


def test_reassign_lists_chatwoots_agents_and_teams_then_assigns(agent_client, chatwoot):
    lead = qualified_lead()
    handoff = settle(lead)
    page = act(agent_client, LEADS, "handoff_reassign", [lead])
    html = page.content.decode()
    assert "Carla Dias" in html and "Vendas" in html
    act(agent_client, LEADS, "handoff_reassign", [lead], post="yes", agent_id="3")
    handoff.refresh_from_db()
    assert (handoff.assignee_id, handoff.assignee_name) == (3, "Carla Dias")
    conversation = chatwoot.state_dump()["conversations"][0]
    assert conversation["assignee_id"] == 3
    assert handoff.events.filter(kind="reassigned").exists()
    assert handoff.calls.filter(step="reassign").exists()


@pytest.mark.parametrize("agent_id", ["Carla", "-3", "3.5"])
def test_reassign_to_an_agent_not_from_the_list_shows_the_form_again_with_an_error(agent_client, chatwoot, agent_id):
    lead = qualified_lead()
    handoff = settle(lead)
    page = act(agent_client, LEADS, "handoff_reassign", [lead], post="yes", agent_id=agent_id)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Escolha o agente e o time na lista." in html and "Carla Dias" in html
    assert not handoff.calls.filter(step="reassign").exists()


def test_reassign_of_a_lead_not_yet_in_chatwoot_is_refused_with_a_message(agent_client, chatwoot):
    lead = LeadFactory(name="Rafael Oliveira", qualification_score=3)
    response = act(agent_client, LEADS, "handoff_reassign", [lead], post="yes", agent_id="2")
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [f"{lead}: ainda sem conversa no Chatwoot."]
    assert not Handoff.objects.exists() and not ChatwootCall.objects.exists()


def test_the_lead_page_shows_the_timeline_decision_and_chatwoot_link(admin_client, chatwoot):
    lead = qualified_lead()
    handoff = settle(lead)
    html = admin_client.get(f"{LEADS}{lead.pk}/change/").content.decode()
    assert "Concluída" in html and "abrir no Chatwoot" in html
    assert handoff.conversation_url in html
    assert "Rodízio" in html and "Contato" in html
    queued = handoff.events.get(kind="queued").created_at
    assert f"{timezone.localtime(queued):%d/%m %H:%M:%S} — Na fila" in html  # local time, not UTC


def test_handoff_admin_actions_retry_and_cancel(agent_client, chatwoot):
    lead = qualified_lead()
    handoff = lead.handoffs.get()
    act(agent_client, HANDOFFS, "cancel", [handoff], post="yes")
    handoff.refresh_from_db()
    assert handoff.state == "cancelled"
    Handoff.objects.filter(pk=handoff.pk).update(state=Handoff.State.FAILED)
    act(agent_client, HANDOFFS, "retry", [handoff], post="yes")
    handoff.refresh_from_db()
    assert handoff.state == "queued" and handoff.events.filter(kind="resumed").exists()


@pytest.mark.parametrize(
    "path", ["/admin/handoff/handoff/", "/admin/handoff/chatwootcall/", "/admin/handoff/routingrule/"]
)
def test_handoff_admin_pages_load(admin_client, chatwoot, path):
    settle(qualified_lead())
    assert admin_client.get(path).status_code == 200


def test_an_admin_score_edit_queues_a_handoff_recording_who(admin_client, admin_user, settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    lead = LeadFactory(qualification_score=3, status=Lead.Status.NOVO)
    form = {"name": lead.name, "phone": lead.phone, "status": "novo", "qualification_score": 9}
    admin_client.post(f"{LEADS}{lead.pk}/change/", form)
    handoff = lead.handoffs.get()
    assert (handoff.trigger, handoff.triggered_by) == ("admin", admin_user)


# Inboxes (WhatsApp numbers): refreshed from Chatwoot, offered when handing off.


def test_the_inbox_list_is_refreshed_from_chatwoot_with_each_kind(admin_client, chatwoot):
    from handoff.models import ChatwootInbox

    sp = chatwoot.add_evolution_inbox("loja-sp", "+551140001111")["id"]
    response = admin_client.post("/admin/handoff/chatwootinbox/refresh/")
    assert response.status_code == 302
    inbox = ChatwootInbox.objects.get(pk=sp)
    assert (inbox.kind, inbox.instance) == (ChatwootInbox.Kind.EVOLUTION, "loja-sp")
    page = admin_client.get("/admin/handoff/chatwootinbox/").content.decode()
    assert "loja-sp" in page and "Atualizar do Chatwoot" in page


def test_refreshing_inboxes_needs_the_change_permission(manager_client, chatwoot):
    from handoff.models import ChatwootInbox

    chatwoot.add_evolution_inbox("loja-sp", "+551140001111")
    assert manager_client.get("/admin/handoff/chatwootinbox/").status_code == 200  # managers see the list
    response = manager_client.post("/admin/handoff/chatwootinbox/refresh/")
    assert response.status_code == 302 and response.url.endswith("/admin/handoff/chatwootinbox/")
    assert not ChatwootInbox.objects.filter(instance="loja-sp").exists()


def test_hand_off_now_offers_the_inbox_and_uses_the_one_chosen(agent_client, chatwoot):
    from handoff.services.inboxes import inboxes_refresh

    rio = chatwoot.add_evolution_inbox("loja-rio", "+552140002222")["id"]
    inboxes_refresh()
    lead = LeadFactory(qualification_score=3)
    page = act(agent_client, LEADS, "handoff_now", [lead]).content.decode()
    assert f'<option value="{rio}">loja-rio' in page
    act(agent_client, LEADS, "handoff_now", [lead], post="yes", inbox_id=str(rio))
    assert lead.handoffs.get().inbox_id == rio


def test_hand_off_now_refuses_an_inbox_not_from_the_list(agent_client, chatwoot):
    lead = LeadFactory(qualification_score=3)
    page = act(agent_client, LEADS, "handoff_now", [lead], post="yes", inbox_id="99")
    assert page.status_code == 200 and "Escolha a caixa de entrada na lista." in page.content.decode()
    assert not lead.handoffs.exists()
