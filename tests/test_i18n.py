"""One language per page: English browsers get English labels, all others the shipped pt-BR, from an up-to-date .mo."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from handoff.models import Handoff
from leads.models import Message
from tests.factories import LeadFactory, MessageFactory

CHANGELIST = "/admin/leads/lead/"
CATALOG = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES"

# (English, Portuguese) of labels the app owns, beside Django's own chrome for the same page.
CHANGELIST_LABELS = [
    ("Select lead to change", "Selecione lead para modificar"),  # Django's
    ("Bot conversations", "Conversas com o bot"),  # a model's verbose_name_plural, in the sidebar
    ("Hand off to Chatwoot now", "Transferir para o Chatwoot agora"),  # an action
    ("Export selected to CSV", "Exportar selecionados para CSV"),
    ("By score", "Por nota"),  # a list_filter title
    ("Name, email, interest or phone in any format.", "Nome, e-mail, interesse ou telefone em qualquer formato."),
]
CHANGE_PAGE_LABELS = [
    ("Change lead", "Modificar lead"),  # Django's
    ("Phone:", "Telefone:"),  # a field's verbose_name
    ("Qualification given by Atlas Nexa, from 1 to 10.", "Qualificação dada pelo Atlas Nexa, de 1 a 10."),
    ("Atlas and Chatwoot", "Atlas e Chatwoot"),  # fieldset titles
    ("Bot conversation", "Conversa com o bot"),
    ("Handoffs to Chatwoot", "Transferências para o Chatwoot"),  # an app's verbose_name
    ("No handoffs.", "Nenhuma transferência."),
]


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    # LocaleMiddleware activates the request's language and leaves it active in this thread.
    yield
    translation.deactivate()


@pytest.fixture
def lead(db):
    return LeadFactory(name="Mariana Albuquerque", interest="Energia solar", qualification_score=9)


def page(client, url, accept_language):
    headers = {} if accept_language is None else {"HTTP_ACCEPT_LANGUAGE": accept_language}
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode()


def lead_pages(client, lead, accept_language):
    return [
        (page(client, CHANGELIST, accept_language), CHANGELIST_LABELS),
        (page(client, f"/admin/leads/lead/{lead.pk}/change/", accept_language), CHANGE_PAGE_LABELS),
    ]


def test_an_english_browser_sees_the_lead_admin_in_english_only(admin_client, lead):
    for html, labels in lead_pages(admin_client, lead, "en-US,en;q=0.9"):
        for english, portuguese in labels:
            assert english in html
            assert portuguese not in html


@pytest.mark.parametrize("accept_language", [None, "pt-br", "pt-BR,pt;q=0.9,en;q=0.5", "de-DE,de;q=0.9"])
def test_every_other_browser_sees_the_lead_admin_in_portuguese(admin_client, lead, accept_language):
    for html, labels in lead_pages(admin_client, lead, accept_language):
        for english, portuguese in labels:
            assert portuguese in html
            assert english not in html


@pytest.mark.parametrize(
    ("accept_language", "inline_title", "sender", "conversation"),
    [("en", "Messages", "Agent", "Conversation"), ("pt-br", "Mensagens", "Agente", "Conversa")],
)
def test_an_inline_title_and_choice_labels_follow_the_language(
    admin_client, accept_language, inline_title, sender, conversation
):
    message = MessageFactory(sender=Message.Sender.AGENT, content="Oi, quero um orçamento.")
    html = page(admin_client, f"/admin/leads/botconversation/{message.conversation.pk}/change/", accept_language)
    assert re.search(rf'class="inline-heading">\s*{inline_title}\s*</h2>', html)
    assert re.search(rf'<td class="field-sender">\s*<p>{sender}</p>', html)
    assert f"<h2>{conversation} {message.conversation.pk} (" in html


@pytest.mark.parametrize(
    ("accept_language", "shown", "hidden"),
    [
        ("en", "Leads and handoffs dashboard", "Painel de leads e transferências"),
        ("pt-br", "Painel de leads e transferências", "Leads and handoffs dashboard"),
    ],
)
def test_the_dashboard_follows_the_language(admin_client, accept_language, shown, hidden):
    html = page(admin_client, "/dashboard/", accept_language)
    assert shown in html
    assert hidden not in html


def test_the_admin_home_and_the_worker_app_follow_the_language(admin_client):
    assert "Leads and handoffs" in page(admin_client, "/admin/", "en") and "Tarefas" not in page(
        admin_client, "/admin/", "en"
    )
    portuguese = page(admin_client, "/admin/", "pt-br")
    assert "Leads e transferências" in portuguese and "Tarefas" in portuguese


def test_timeline_messages_are_stored_in_the_sites_language_whoever_wrote_them(api):
    """A client asking for English still writes the Portuguese timeline, the trigger's label included."""
    trigger = {"id": "atlas-77", "name": "Mariana", "phone": "+55 11 98765-4321", "qualification_score": 9}
    assert api.post("/api/v1/handoffs/", trigger, format="json", HTTP_ACCEPT_LANGUAGE="en").status_code == 202
    queued = Handoff.objects.get().events.get(kind="queued")
    assert queued.message == "Na fila (Pedido do Atlas (API))."


@pytest.mark.parametrize("accept_language", [None, "en-US,en;q=0.9"])
def test_the_api_speaks_the_sites_language_whatever_the_client_asks(api, accept_language):
    headers = {} if accept_language is None else {"HTTP_ACCEPT_LANGUAGE": accept_language}
    response = api.get("/api/v1/metrics/", **headers)
    assert [step["label"] for step in response.json()["funnel"]][:2] == ["Leads", "Qualificados"]
    assert response["Content-Language"] == "pt-br"


def po_entries(path: Path) -> list[dict]:
    """Each entry of a .po file as {"flags", "msgctxt", "msgid", "msgid_plural", "msgstr", "msgstr[N]"}."""
    entries, entry, field = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and ("msgid" in entry):
                entries.append(entry)
            entry, field = None, None
            continue
        entry = entry if entry is not None else {"flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field] += ast.literal_eval(line)  # a continuation line of a multi-line string
        else:
            field, _, quoted = line.partition(" ")
            entry[field] = ast.literal_eval(quoted)
    return entries


def mo_catalog_of(entries: list[dict]) -> dict:
    """The entries keyed as gettext.GNUTranslations keys its catalog (context\\x04msgid; (msgid, n) for plurals)."""
    catalog = {}
    for entry in entries:
        msgid = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if "msgid_plural" in entry:
            forms = sorted(key for key in entry if key.startswith("msgstr["))
            catalog.update({(msgid, index): entry[key] for index, key in enumerate(forms)})
        else:
            catalog[msgid] = entry["msgstr"]
    return catalog


def test_the_catalog_has_no_fuzzy_or_untranslated_entry():
    entries = [entry for entry in po_entries(CATALOG / "django.po") if entry["msgid"]]  # the header has msgid ""
    assert entries
    assert [entry["msgid"] for entry in entries if "fuzzy" in entry["flags"]] == []
    untranslated = [e["msgid"] for e in entries if not all(v for k, v in e.items() if k.startswith("msgstr"))]
    assert untranslated == []


def test_the_compiled_catalog_is_up_to_date_with_the_po():
    expected = mo_catalog_of([entry for entry in po_entries(CATALOG / "django.po") if entry["msgid"]])
    with (CATALOG / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    # The private catalog is the only way to see every entry, including one whose msgstr equals its msgid.
    assert {key: value for key, value in compiled._catalog.items() if key != ""} == expected
