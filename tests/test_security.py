"""Security gates: secrets never leak, admin actions need their permission, Chatwoot only over safe addresses."""

import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Value

import pytest
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django_q.models import Failure, OrmQ, Schedule, Success, Task
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.worker import worker
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from chatwoot_sandbox import Sandbox
from handoff.chatwoot import ChatwootClient, ChatwootConfigurationError, ChatwootPermanentError, ChatwootSettings
from handoff.models import (
    ChatwootCall,
    ChatwootInbox,
    ChatwootIntegrationUser,
    Handoff,
    HandoffEvent,
    RoutingRule,
    WebhookDelivery,
)
from handoff.signatures import signature_for
from outbound.models import Delivery, OutboundEvent, Subscription
from outbound.signing import secret_generate
from tests.factories import LeadFactory, MessageFactory
from tests.test_settings import GOOD_KEY, run_manage

pytestmark = pytest.mark.django_db

TOKEN = "cw-user-token-Qx7Lm2Vb9Rk4"
WRONG_TOKEN = "cw-revoked-token-Hd3Ns8Tp1Wy6"
WEBHOOK_SECRET = "whsec-Jf5Kc0Zr7Ua2Ge9P"
PRODUCTION = {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_DEBUG": "false", "DJANGO_ALLOWED_HOSTS": "nexa.exemplo.com.br"}


# --- Secrets never leak ---------------------------------------------------------------------------------------


@pytest.fixture
def secret_chatwoot(settings):
    """The sandbox with a distinctive token, Nexa configured for it and for a distinctive webhook secret."""
    from django.core.cache import cache

    with Sandbox(token=TOKEN, account_id=1, inbox_id=1).start() as sandbox:
        settings.CHATWOOT_BASE_URL = sandbox.base_url
        settings.CHATWOOT_ACCOUNT_ID, settings.CHATWOOT_INBOX_ID = 1, 1
        settings.CHATWOOT_API_TOKEN = TOKEN
        settings.CHATWOOT_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
        settings.DEBUG = False
        cache.clear()
        yield sandbox


def queued_tasks_run() -> list[str]:
    """Run what the ORM broker holds through django-q2's own worker and monitor, in this process.

    Returns each queued task as stored (the signed payload and what it decodes to); the monitor saves Task rows.
    """
    stored = []
    while rows := list(OrmQ.objects.all()):
        for row in rows:
            task = row.task
            stored.append(row.payload + repr(task))
            task.update(ack_id=row.pk, sync=True)  # sync: the worker keeps the test's database connection
            tasks, results = Queue(), Queue()
            tasks.put(task)
            tasks.put("STOP")
            worker(tasks, results, Value("f", -1))
            results.put("STOP")
            monitor(results)
    return stored


def webhook_deliver(payload: dict, secret: str = WEBHOOK_SECRET):
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    return APIClient().post(
        "/api/v1/webhooks/chatwoot/",
        data=body,
        content_type="application/json",
        HTTP_X_CHATWOOT_DELIVERY=str(uuid.uuid4()),
        HTTP_X_CHATWOOT_TIMESTAMP=stamp,
        HTTP_X_CHATWOOT_SIGNATURE=signature_for(secret, stamp, body),
    )


def trigger(api: APIClient, phone: str, capture) -> None:
    payload = {"id": f"atlas-{phone[-4:]}", "name": "Camila Rocha", "phone": phone, "qualification_score": 9}
    payload["bot_history"] = "Lead: Oi, quero energia solar\nBot: Olá! É para casa ou empresa?"
    with capture(execute=True):
        assert api.post("/api/v1/handoffs/", payload, format="json").status_code == 202


def stored_texts() -> dict[str, list[str]]:
    """Everything Nexa keeps about calls, deliveries and tasks, as text."""
    return {
        "ChatwootCall": [json.dumps(c.request) + c.path + c.response for c in ChatwootCall.objects.all()],
        "WebhookDelivery": [
            json.dumps(d.headers) + d.body + d.error + d.traceback for d in WebhookDelivery.objects.all()
        ],
        "django_q Task": [repr((t.name, t.func, t.args, t.kwargs, t.result)) for t in Task.objects.all()],
        "Handoff": [h.last_error for h in Handoff.objects.all()] + [e.message for e in HandoffEvent.objects.all()],
    }


def log_texts(caplog) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in caplog.records]


def assert_absent(secrets: list[str], where: dict[str, list[str]]) -> None:
    for name, texts in where.items():
        for text in texts:
            for secret in secrets:
                assert secret not in text, f"a secret leaked into {name}: {text[:300]}"


@pytest.mark.django_db(transaction=True)  # the dispatcher's threads read what the test wrote
def test_secrets_never_reach_logs_audit_rows_tasks_or_deliveries(
    secret_chatwoot, api_key, api, caplog, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SAVE_LIMIT", 0)  # successful tasks kept too (Nexa keeps failed ones): all searched
    caplog.set_level(logging.DEBUG)
    trigger(api, "+55 11 98123-4567", django_capture_on_commit_callbacks)
    queued = queued_tasks_run()
    handoff = Handoff.objects.get()
    assert handoff.state == "done", handoff.last_error

    secret_chatwoot.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá, Camila! Vamos conversar?")
    with django_capture_on_commit_callbacks(execute=True):
        for payload in list(secret_chatwoot.events):
            assert webhook_deliver(payload).status_code == 200
        assert webhook_deliver(secret_chatwoot.events[-1], secret="not-the-secret").status_code == 401
    queued += queued_tasks_run()

    settings.CHATWOOT_API_TOKEN = WRONG_TOKEN  # Chatwoot answers 401 to a revoked token
    trigger(api, "+55 21 99876-5432", django_capture_on_commit_callbacks)
    queued += queued_tasks_run()
    failed = Handoff.objects.exclude(pk=handoff.pk).get()
    assert failed.state == "failed" and "401" in failed.last_error

    stored = {**stored_texts(), "django_q OrmQ": queued, "log": log_texts(caplog)}
    assert all(stored.values()), {name: len(texts) for name, texts in stored.items()}  # each was really searched
    assert WebhookDelivery.objects.filter(state="processed").exists() and Task.objects.count() >= 3
    assert_absent([TOKEN, WRONG_TOKEN, WEBHOOK_SECRET, api_key, api_key.split(".")[-1]], stored)


@pytest.mark.django_db(transaction=True)
def test_a_chatwoot_401_names_no_token(secret_chatwoot, settings, django_capture_on_commit_callbacks, api):
    settings.CHATWOOT_API_TOKEN = WRONG_TOKEN
    trigger(api, "+55 31 99123-4567", django_capture_on_commit_callbacks)
    queued_tasks_run()
    handoff = Handoff.objects.get()
    assert handoff.state == "failed"
    assert "Chatwoot answered 401" in handoff.last_error and "Perfil → Token de acesso" in handoff.last_error
    assert WRONG_TOKEN not in handoff.last_error
    assert all(WRONG_TOKEN not in text for text in stored_texts()["ChatwootCall"])


def error_pages(api_key: str, monkeypatch) -> dict[str, list[str]]:
    """A forced 500 (API and page), 404s, and DRF's authentication and signature refusals."""
    from leads.api import LeadDetailView

    def boom(*args, **kwargs):
        raise RuntimeError(f"configuração: {TOKEN} {WEBHOOK_SECRET} {api_key}")

    monkeypatch.setattr(LeadDetailView, "get", boom)
    monkeypatch.setattr("dashboard.views.metrics_collect", boom)
    browser = Client(raise_request_exception=False)
    browser.force_login(User.objects.create_superuser("admin-seguranca"))
    key_client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    responses = {
        "api 500": key_client.get(f"/api/v1/leads/{uuid.uuid4()}/"),
        "page 500": browser.get("/dashboard/"),
        "api 404": key_client.get(f"/api/v1/nada/{TOKEN}/?token={WEBHOOK_SECRET}"),
        "page 404": browser.get(f"/nada/{TOKEN}/"),
        "401 key": Client().get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Bearer {api_key}x"),
        "401 signature": webhook_deliver({"event": "conversation_updated"}, secret=WEBHOOK_SECRET + "x"),
    }
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "api 500": 500,
        "page 500": 500,
        "api 404": 404,
        "page 404": 404,
        "401 key": 401,
        "401 signature": 401,
    }
    return {name: [response.content.decode(errors="replace")] for name, response in responses.items()}


def test_error_pages_show_no_secret_with_debug_off(secret_chatwoot, api_key, monkeypatch):
    pages = error_pages(api_key, monkeypatch)
    assert "Erro interno" in pages["api 500"][0]
    assert_absent([TOKEN, WEBHOOK_SECRET, api_key, api_key.split(".")[-1]], pages)


# --- Every admin action requires its permission -----------------------------------------------------------------


@pytest.fixture
def one_of_each():
    """A row for every model the admin lists, so that every action has something to act on."""
    lead = LeadFactory()
    handoff = Handoff.objects.create(lead=lead, state="failed", last_error="Chatwoot fora do ar")
    MessageFactory(conversation__lead=lead)
    ChatwootCall.objects.create(handoff=handoff, method="GET", path="/agents", status=200, duration_ms=12)
    RoutingRule.objects.create(name="Grandes contas", position=1)
    ChatwootInbox.objects.create(id=1, name="Atlas Nexa", kind="api", channel_type="Channel::Api")
    ChatwootIntegrationUser.objects.create(user_id=4, name="Evolution API")
    WebhookDelivery.objects.create(delivery_id="d-1", event="conversation_updated", body="{}", state="failed")
    APIKey.objects.create_key(name="atlas-nexa")
    subscription = Subscription.objects.create(
        name="n8n", url="https://n8n.exemplo.com.br/webhook/nexa", secrets=secret_generate()
    )
    event = OutboundEvent.objects.create(type="lead.lost", lead=lead, body="{}")
    Delivery.objects.create(
        subscription=subscription, event=event, lead_id=lead.pk, state="failed", retry_until=lead.created_at
    )
    User.objects.create_user("operador", is_staff=True)
    OrmQ.objects.create(key="nexa", payload="x", lock=None)
    for success in (True, False):
        Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"tarefa-{success}",
            func="handoff.tasks.handoffs_sweep",
            started=lead.created_at,
            stopped=lead.created_at,
            success=success,
        )
    missing = [m._meta.label for m in admin.site._registry if not m._default_manager.exists()]
    assert not missing, f"add a row for {missing}"


SUPERUSER = User(is_superuser=True, is_staff=True, is_active=True)


def offered(user: User, model) -> dict:
    """The actions the model's admin offers this user, by name."""
    request = RequestFactory().get("/admin/")
    request.user = user
    return admin.site._registry[model].get_actions(request)


def admin_actions() -> list[tuple[type, str]]:
    """Every (model, action name) the admin offers to a superuser."""
    return [(model, name) for model in admin.site._registry for name in offered(SUPERUSER, model)]


ACTIONS = [pytest.param(model, name, id=f"{model._meta.label}.{name}") for model, name in admin_actions()]


def required_permissions(model, name: str) -> list[Permission]:
    """The Permission rows behind an action's `permissions=[...]` (standard ones, or custom codenames)."""
    func = offered(SUPERUSER, model)[name][0]
    names = getattr(func, "allowed_permissions", ())
    assert names, f"{model._meta.label}.{name} requires no permission"
    opts = model._meta
    found = []
    for perm in names:
        codenames = [get_permission_codename(perm, opts), perm]
        rows = list(Permission.objects.filter(codename__in=codenames))
        assert len(rows) == 1, f"{model._meta.label}.{name}: which permission is {perm!r}?"
        found.append(rows[0])
        if perm == "view":  # the change permission grants viewing too
            found.append(Permission.objects.get(codename=get_permission_codename("change", opts)))
    return found


def staff_with(username: str, permissions) -> User:
    user = User.objects.create_user(username, is_staff=True)
    user.user_permissions.set(permissions)
    return User.objects.get(pk=user.pk)  # a fresh permission cache


def database_state() -> dict:
    models = [*admin.site._registry, HandoffEvent, Schedule]
    return {model._meta.label: list(model._default_manager.order_by("pk").values()) for model in models}


@pytest.mark.parametrize(("model", "name"), ACTIONS)
def test_an_admin_action_is_neither_offered_nor_run_without_its_permission(model, name, one_of_each, client):
    needed = required_permissions(model, name)
    user = staff_with("sem-permissao", Permission.objects.exclude(pk__in=[p.pk for p in needed]))
    assert name not in offered(user, model)
    client.force_login(user)
    before = database_state()
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    selected = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)]
    response = client.post(url, {"action": name, "_selected_action": selected, "post": "yes", "index": 0})
    assert response.status_code in (200, 302, 403)
    assert database_state() == before


@pytest.mark.parametrize(("model", "name"), ACTIONS)
def test_an_admin_action_is_offered_with_its_permission(model, name, one_of_each):
    view = Permission.objects.get(
        content_type__app_label=model._meta.app_label, codename=get_permission_codename("view", model._meta)
    )
    user = staff_with("com-permissao", [view, *required_permissions(model, name)])
    assert name in offered(user, model)


def test_agents_have_the_handoff_actions_and_managers_do_not(one_of_each):
    from leads.models import Lead

    agent = User.objects.create_user("agente", is_staff=True)
    agent.groups.add(Group.objects.get(name="Agents"))
    manager = User.objects.create_user("gerente", is_staff=True)
    manager.groups.add(Group.objects.get(name="Managers"))
    handoff_actions = {"handoff_now", "handoff_retry", "handoff_reassign", "handoff_cancel"}
    assert handoff_actions <= set(offered(agent, Lead))
    assert {"retry", "cancel"} <= set(offered(agent, Handoff))
    assert not handoff_actions & set(offered(manager, Lead))
    assert not {"retry", "cancel"} & set(offered(manager, Handoff))
    assert "delete_selected" not in {*offered(agent, Lead), *offered(manager, Lead)}


def test_resubmitting_a_django_q_task_needs_the_change_permission(one_of_each, client):
    viewer = staff_with("leitor", Permission.objects.filter(codename="view_failure"))
    client.force_login(viewer)
    failure = Failure.objects.get()
    client.post("/admin/django_q/failure/", {"action": "resubmit_task", "_selected_action": [failure.pk]})
    assert Failure.objects.filter(pk=failure.pk).exists() and OrmQ.objects.count() == 1
    assert Success.objects.count() == 1


# --- Chatwoot only over https and public addresses ----------------------------------------------------------------


def test_production_refuses_an_http_chatwoot_url():
    result = run_manage("check", **PRODUCTION, CHATWOOT_BASE_URL="http://chatwoot.exemplo.com.br")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CHATWOOT_BASE_URL must use https://" in result.stderr


def test_production_accepts_http_only_with_the_explicit_opt_in():
    env = {"CHATWOOT_BASE_URL": "http://chatwoot:3000", "CHATWOOT_ALLOW_INSECURE_HTTP": "true"}
    result = run_manage("check", **PRODUCTION, **env)
    assert result.returncode == 0, result.stderr


def test_production_refuses_private_networks_unless_allowed():
    show = [
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.conf import settings; print(settings.CHATWOOT_ALLOW_PRIVATE_NETWORK)",
    ]
    assert run_manage(*show, **PRODUCTION).stdout.strip() == "False"
    allowed = run_manage(*show, **PRODUCTION, CHATWOOT_ALLOW_PRIVATE_NETWORK="true")
    assert allowed.stdout.strip() == "True"


def resolving_to(monkeypatch, *addresses: str) -> None:
    """DNS for this test: every name resolves to these addresses (no real lookup, no network)."""

    def getaddrinfo(host, port, *args, **kwargs):
        family = lambda address: socket.AF_INET6 if ":" in address else socket.AF_INET  # noqa: E731
        return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def guarded_client(base_url: str = "https://chatwoot.exemplo.com.br") -> ChatwootClient:
    return ChatwootClient(
        ChatwootSettings(base_url=base_url, account_id=1, api_token=TOKEN, inbox_id=1, allow_private_network=False)
    )


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.7",
        "172.16.5.4",
        "192.168.1.10",
        "127.0.0.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::1",
        "fe80::1",
        "fd12:3456::1",
        "::ffff:10.0.0.1",
    ],
)
def test_a_chatwoot_host_on_a_private_address_is_refused(monkeypatch, address):
    resolving_to(monkeypatch, address)
    with pytest.raises(ChatwootConfigurationError, match="CHATWOOT_ALLOW_PRIVATE_NETWORK") as refused:
        guarded_client()
    assert "CHATWOOT_BASE_URL" in str(refused.value) and address in str(refused.value)


def test_a_host_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    resolving_to(monkeypatch, "203.0.113.9", "93.184.216.34", "10.1.2.3")
    with pytest.raises(ChatwootConfigurationError, match=r"10\.1\.2\.3"):
        guarded_client()


def test_a_chatwoot_host_on_public_addresses_is_accepted(monkeypatch):
    resolving_to(monkeypatch, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert guarded_client().settings.allow_private_network is False


def test_private_addresses_are_allowed_when_configured(chatwoot):
    client = ChatwootClient(
        ChatwootSettings(
            base_url=chatwoot.base_url, account_id=1, api_token="sandbox-token", inbox_id=1, allow_private_network=True
        )
    )
    assert client.profile().name


def test_the_guard_follows_the_deployment_setting(settings):
    settings.CHATWOOT_ALLOW_PRIVATE_NETWORK = False
    assert ChatwootSettings(base_url="x", account_id=1, api_token="t", inbox_id=1).allow_private_network is False
    settings.CHATWOOT_ALLOW_PRIVATE_NETWORK = True
    assert ChatwootSettings(base_url="x", account_id=1, api_token="t", inbox_id=1).allow_private_network is True


class CountingServer(ThreadingHTTPServer):
    """A local HTTP server that answers every request with `status` (and a Location) and counts them."""

    def __init__(self, status: int = 200, location: str = ""):
        self.hits: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(dict(self.headers))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def close(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def servers():
    started = []
    yield lambda **kwargs: started.append(CountingServer(**kwargs)) or started[-1]
    for server in started:
        server.close()


def test_a_connection_that_lands_on_a_private_address_sends_nothing(monkeypatch, servers):
    """DNS that answers public to the check and private to the connection (rebinding) still reaches nothing."""
    target = servers()
    real_getaddrinfo = socket.getaddrinfo
    resolving_to(monkeypatch, "93.184.216.34")
    client = guarded_client(f"http://localhost:{target.server_address[1]}")
    monkeypatch.setattr(socket, "getaddrinfo", real_getaddrinfo)
    with pytest.raises(ChatwootConfigurationError, match="nothing was sent"):
        client.agents()
    assert target.hits == []


def test_a_redirect_is_never_followed_and_the_token_stays_home(servers):
    elsewhere = servers()
    chatwoot = servers(status=302, location=f"{elsewhere.url}/steal")
    client = ChatwootClient(ChatwootSettings(base_url=chatwoot.url, account_id=1, api_token=TOKEN, inbox_id=1))
    with pytest.raises(ChatwootPermanentError, match="302"):
        client.agents()
    assert len(chatwoot.hits) == 1 and elsewhere.hits == []


def test_a_handoff_to_chatwoot_on_loopback_fails_at_once_without_the_opt_in(chatwoot, settings):
    from tests.test_handoff_pipeline import qualified_lead, settle

    settings.CHATWOOT_ALLOW_PRIVATE_NETWORK = False
    handoff = settle(qualified_lead())
    assert handoff.state == "failed" and "CHATWOOT_ALLOW_PRIVATE_NETWORK" in handoff.last_error
    assert chatwoot.requests == []


def test_check_chatwoot_reports_a_private_address(chatwoot, settings):
    import io

    settings.CHATWOOT_ALLOW_PRIVATE_NETWORK = False
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_chatwoot", stdout=out)
    assert "CHATWOOT_ALLOW_PRIVATE_NETWORK" in out.getvalue() and "127.0.0.1" in out.getvalue()
    assert chatwoot.requests == []
