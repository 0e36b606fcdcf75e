"""The admin managers browse leads in: changelist, search, filters, transcript, CSV export, permissions."""

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Lead, Message
from nexa import paginators
from tests.factories import BotConversationFactory, LeadFactory, MessageFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/leads/lead/"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def listed(response) -> list[Lead]:
    return list(response.context["cl"].result_list)


def test_changelist_shows_formatted_phone_score_and_status(admin_client):
    LeadFactory(name="Mariana Albuquerque", phone="+5511987654321", qualification_score=9)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mariana Albuquerque" in html
    assert "+55 11 98765-4321" in html


@pytest.mark.parametrize("term", ["(11) 98765-4321", "+55 11 8765-4321", "5511987654321", "11987654321"])
def test_search_finds_a_lead_by_any_spelling_of_its_phone(admin_client, term):
    lead = LeadFactory(phone="+5511987654321")
    LeadFactory()
    assert listed(admin_client.get(CHANGELIST, {"q": term})) == [lead]


@pytest.mark.parametrize("term", ["Albuquerque", "mariana@exemplo", "usina"])
def test_search_by_name_email_and_interest(admin_client, term):
    lead = LeadFactory(name="Mariana Albuquerque", email="mariana@exemplo.com.br", interest="Usina rural")
    LeadFactory(name="Pedro Lima", email="pedro@exemplo.com.br", interest="Residencial")
    assert listed(admin_client.get(CHANGELIST, {"q": term})) == [lead]


def test_filter_by_status(admin_client):
    won = LeadFactory(status=Lead.Status.CONVERTIDO)
    LeadFactory(status=Lead.Status.NOVO)
    assert listed(admin_client.get(CHANGELIST, {"status__exact": "convertido"})) == [won]


@pytest.mark.parametrize(("band", "expected"), [("none", [None]), ("qualified", [7, 9]), ("1-3", [2]), ("9-10", [9])])
def test_filter_by_score_band(admin_client, settings, band, expected):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    for score in (None, 2, 7, 9):
        LeadFactory(qualification_score=score)
    scores = sorted(
        (lead.qualification_score for lead in listed(admin_client.get(CHANGELIST, {"score": band}))),
        key=lambda s: s or 0,
    )
    assert scores == expected


def test_filter_by_created_date(admin_client):
    inside = LeadFactory(created_at=datetime(2026, 11, 20, 23, 30, tzinfo=SAO_PAULO))
    LeadFactory(created_at=datetime(2026, 11, 21, 0, 30, tzinfo=SAO_PAULO))
    day = {"created_at__gte": "2026-11-20 00:00:00-03:00", "created_at__lt": "2026-11-21 00:00:00-03:00"}
    assert listed(admin_client.get(CHANGELIST, day)) == [inside]


def test_lead_page_shows_the_transcript_read_only_in_local_time(admin_client, settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    conversation = BotConversationFactory()
    sent = datetime(2026, 11, 20, 13, 5, tzinfo=UTC)
    MessageFactory(
        conversation=conversation, sender=Message.Sender.BOT, content="Olá, sou a <b>Atlas</b>", created_at=sent
    )
    response = admin_client.get(f"/admin/leads/lead/{conversation.lead.pk}/change/")
    html = response.content.decode()
    assert "Olá, sou a &lt;b&gt;Atlas&lt;/b&gt;" in html  # escaped, never rendered
    assert "20/11/2026 10:05" in html


def test_export_selected_to_csv(admin_client):
    chosen = LeadFactory(name='=HYPERLINK("http://mal")', phone="+5511987654321")
    LeadFactory()
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [str(chosen.pk)]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert len(rows) == 1
    assert rows[0]["phone"] == "+5511987654321"
    assert rows[0]["name"].startswith("'=")  # a spreadsheet will not run it


def test_the_deal_and_loss_reason_show_on_the_lead_page_and_in_the_csv(admin_client):
    from decimal import Decimal

    from handoff.models import Handoff

    won, lost = LeadFactory(status=Lead.Status.CONVERTIDO), LeadFactory(status=Lead.Status.PERDIDO)
    Handoff.objects.create(
        lead=won, trigger="score", state="done", deal_value=Decimal("12500"), deal_value_text="R$ 12.500,00"
    )
    Handoff.objects.create(lead=lost, trigger="score", state="done", deal_value_text="a ver", loss_reason="Caro")
    page = admin_client.get(f"{CHANGELIST}{won.pk}/change/").content.decode()
    assert "R$ 12.500,00" in page
    assert "“a ver”" in admin_client.get(f"{CHANGELIST}{lost.pk}/change/").content.decode()
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [won.pk, lost.pk]})
    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text), delimiter=";")}
    assert (rows[str(won.pk)]["deal_value"], rows[str(won.pk)]["loss_reason"]) == ("12500.00", "")
    assert (rows[str(lost.pk)]["deal_value"], rows[str(lost.pk)]["loss_reason"]) == ("", "Caro")


def test_admin_form_refuses_a_twin_of_another_leads_phone(admin_client):
    LeadFactory(phone="+5511987654321")
    response = admin_client.post(
        "/admin/leads/lead/add/", {"name": "Duplicada", "phone": "+55 11 8765-4321", "status": "novo"}
    )
    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    assert Lead.objects.count() == 1


def test_an_admin_score_edit_moves_the_status(admin_client, settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    lead = LeadFactory(qualification_score=3, status=Lead.Status.NOVO)
    form = {"name": lead.name, "phone": lead.phone, "status": "novo", "qualification_score": 8}
    admin_client.post(f"/admin/leads/lead/{lead.pk}/change/", form)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.QUALIFICADO


def test_closing_a_lead_in_the_admin_records_when(admin_client):
    lead = LeadFactory(status=Lead.Status.HANDED_OFF)
    form = {"name": lead.name, "phone": lead.phone, "status": "convertido", "qualification_score": 8}
    admin_client.post(f"/admin/leads/lead/{lead.pk}/change/", form)
    lead.refresh_from_db()
    assert lead.closed_at is not None


def test_admin_form_normalises_the_phone(admin_client):
    admin_client.post("/admin/leads/lead/add/", {"name": "Nova", "phone": "(21) 99812-3456", "status": "novo"})
    lead = Lead.objects.get()
    assert (lead.phone, lead.phone_identity) == ("+5521998123456", "+5521998123456")


def test_managers_can_browse_and_export_but_not_edit(manager):
    lead = LeadFactory()
    assert manager.get(CHANGELIST).status_code == 200
    export = manager.post(CHANGELIST, {"action": "export_csv", "_selected_action": [str(lead.pk)]})
    assert export.status_code == 200
    response = manager.post(f"/admin/leads/lead/{lead.pk}/change/", {"name": "Outro", "phone": lead.phone})
    assert response.status_code == 403


def test_staff_without_a_group_cannot_see_leads(client):
    client.force_login(User.objects.create_user("sem-grupo", is_staff=True))
    assert client.get(CHANGELIST).status_code == 403


def test_groups_exist_with_view_permissions():
    for name in ("Managers", "Agents"):
        codenames = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert {"view_lead", "view_botconversation", "view_message"} <= codenames


def test_changelist_never_counts_the_whole_table(admin_client, postgres_only, monkeypatch):
    LeadFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")
    monkeypatch.setattr(paginators, "EXACT_BELOW", 0)
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(CHANGELIST).status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "leads_lead" in q["sql"]]
    assert counts == []


def test_changelist_never_offers_facet_counts(admin_client):
    LeadFactory()
    response = admin_client.get(CHANGELIST, {"_facets": "1"})
    assert response.context["cl"].add_facets is False


def test_filtered_changelist_counts_exactly(admin_client):
    LeadFactory.create_batch(3, status=Lead.Status.PERDIDO)
    response = admin_client.get(CHANGELIST, {"status__exact": "perdido"})
    assert response.context["cl"].result_count == 3


@pytest.mark.parametrize("path", ["/admin/leads/botconversation/", "/admin/leads/message/", "/admin/"])
def test_other_admin_pages_load(admin_client, path):
    MessageFactory()
    assert admin_client.get(path).status_code == 200


def test_the_admin_search_can_use_trigram_indexes_on_postgresql(admin_client, postgres_only):
    """On a million leads a substring search must not read the whole table (leads/migrations/0004)."""
    LeadFactory(name="Zuleica Prado")
    with CaptureQueriesContext(connection) as queries:
        assert "Zuleica Prado" in admin_client.get("/admin/leads/lead/?q=Zuleica").content.decode()
    search = next(q["sql"] for q in queries.captured_queries if "LIKE" in q["sql"] and "leads_lead" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny test table: make the planner show the index
        cursor.execute(f"EXPLAIN {search}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "lead_name_trgm_idx" in plan


def test_an_api_keys_scopes_are_chosen_in_the_admin_and_listed(admin_client):
    from rest_framework_api_key.models import APIKey

    from leads.models import ApiKeyAccess

    form = {
        "name": "n8n",
        "access-TOTAL_FORMS": "1",
        "access-INITIAL_FORMS": "0",
        "access-MIN_NUM_FORMS": "0",
        "access-MAX_NUM_FORMS": "1",
        "access-0-scopes": ["leads:read", "metrics:read"],
    }
    assert "leads:write" in admin_client.get("/admin/rest_framework_api_key/apikey/add/").content.decode()
    response = admin_client.post("/admin/rest_framework_api_key/apikey/add/", form)
    assert response.status_code == 302
    assert ApiKeyAccess.objects.get(api_key__name="n8n").scopes == ["leads:read", "metrics:read"]
    APIKey.objects.create_key(name="antiga")
    listing = admin_client.get("/admin/rest_framework_api_key/apikey/").content.decode()
    assert "leads:read, metrics:read" in listing and "antiga" in listing
