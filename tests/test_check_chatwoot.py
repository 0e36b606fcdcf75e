"""`manage.py check_chatwoot`: what it finds, and the fix it prints."""

import io

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run() -> tuple[str, bool]:
    out = io.StringIO()
    try:
        call_command("check_chatwoot", stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


def test_a_good_configuration_passes(chatwoot):
    output, ok = run()
    assert ok, output
    assert "Conta 1: administrador" in output and "Agentes da caixa 1: 3 (2 online agora)" in output


def test_missing_settings_are_named(settings):
    settings.CHATWOOT_BASE_URL, settings.CHATWOOT_API_TOKEN = "", ""
    output, ok = run()
    assert not ok
    assert "CHATWOOT_BASE_URL" in output and "CHATWOOT_API_TOKEN" in output


def test_an_unreachable_url_says_so(chatwoot, settings):
    settings.CHATWOOT_BASE_URL = "http://127.0.0.1:9"
    output, ok = run()
    assert not ok and "Confira a URL" in output


def test_a_wrong_token_says_where_to_find_the_right_one(chatwoot, settings):
    settings.CHATWOOT_API_TOKEN = "errado"
    output, ok = run()
    assert not ok and "Perfil → Token de acesso" in output
    assert "errado" not in output


def test_a_bot_token_is_recognised(chatwoot, settings):
    settings.CHATWOOT_API_TOKEN = chatwoot.bot_token
    output, ok = run()
    assert not ok and "token de bot" in output


def test_an_agent_token_is_a_warning_with_the_reason(chatwoot, settings):
    settings.CHATWOOT_API_TOKEN = chatwoot.agent_tokens[2]
    output, ok = run()
    assert not ok and "Use o token de um administrador" in output


def test_a_wrong_account_lists_the_users_accounts(chatwoot, settings):
    settings.CHATWOOT_ACCOUNT_ID = 99
    output, ok = run()
    assert not ok and "não pertence à conta 99" in output


def test_a_wrong_inbox_says_where_to_find_the_id(chatwoot, settings):
    settings.CHATWOOT_INBOX_ID = 77
    output, ok = run()
    assert not ok and "Caixas de entrada" in output


def test_an_inbox_that_cannot_reach_whatsapp_is_refused_with_the_reason(chatwoot, settings):
    with chatwoot.state.lock:
        chatwoot.state.inbox(1)["channel_type"] = "Channel::Email"
    output, ok = run()
    assert not ok and "Channel::Email não leva respostas ao WhatsApp" in output


def test_a_plain_api_inbox_says_nobody_delivers_replies_to_whatsapp(chatwoot):
    output, ok = run()
    assert ok, output
    assert "Caixa de entrada 1: Atlas Nexa — padrão (CHATWOOT_INBOX_ID): Caixa de API simples" in output
    assert "ninguém leva as respostas dos agentes ao WhatsApp" in output


def test_a_lease_shorter_than_the_worker_timeout_is_an_error(settings):
    from handoff.checks import handoff_settings_check

    settings.HANDOFF_LEASE_SECONDS = 60
    assert "handoff.E001" in [problem.id for problem in handoff_settings_check(None)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HANDOFF_THREADS", 0),
        ("HANDOFF_STEP_RETRIES", -1),
        ("HANDOFF_STEP_RETRY_SECONDS", -0.5),
        ("CHATWOOT_PAUSE_ON_429_SECONDS", 0),
    ],
)
def test_speed_settings_out_of_range_are_an_error_naming_the_setting(settings, name, value):
    from handoff.checks import handoff_settings_check

    assert not [p for p in handoff_settings_check(None) if p.id == "handoff.E003"]  # the defaults pass
    setattr(settings, name, value)
    (problem,) = [p for p in handoff_settings_check(None) if p.id == "handoff.E003"]
    assert f"{name}={value}" in problem.msg


def test_missing_webhook_secrets_warn_at_start_up(settings):
    from handoff.checks import handoff_settings_check

    settings.CHATWOOT_WEBHOOK_SECRETS, settings.CHATWOOT_WEBHOOK_URL_TOKEN = [], ""
    assert "handoff.W001" in [problem.id for problem in handoff_settings_check(None)]


def test_url_token_mode_is_logged_at_start_up_without_the_token(settings, caplog):
    from django.apps import apps

    settings.CHATWOOT_WEBHOOK_URL_TOKEN = "token-da-url-123"
    apps.get_app_config("handoff").ready()
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert any("CHATWOOT_WEBHOOK_URL_TOKEN" in record.getMessage() for record in warnings)
    assert "token-da-url-123" not in caplog.text


def test_every_inbox_in_use_is_reported_with_what_its_kind_means(chatwoot):
    from handoff.models import RoutingRule
    from tests.factories import LeadFactory

    sp = chatwoot.add_evolution_inbox("loja-sp", "+551140001111")["id"]
    whatsapp = chatwoot.add_whatsapp_inbox("+551140003333")["id"]
    RoutingRule.objects.create(name="Rio", inbox_id=sp)
    LeadFactory(chatwoot_inbox_id=whatsapp)
    output, ok = run()
    assert ok, output
    assert f"Caixa de entrada {sp}: loja-sp (instância loja-sp) — regra Rio: Evolution API (WhatsApp)" in output
    assert "o Evolution API leva as respostas dos agentes ao WhatsApp do lead" in output
    assert f"Caixa de entrada {whatsapp}: " in output and "+551140003333" in output
    assert "texto livre só até 24 h" in output
    assert f"Agentes da caixa {sp}: " in output and f"Agentes da caixa {whatsapp}: " in output


def test_chatwoots_own_assignment_in_an_inbox_in_use_is_flagged_with_the_fix(chatwoot):
    with chatwoot.state.lock:
        chatwoot.state.inbox(1)["enable_auto_assignment"] = True
    output, ok = run()
    assert not ok and "Atribuição automática do Chatwoot ligada na caixa 1" in output
