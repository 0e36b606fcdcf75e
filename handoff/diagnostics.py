"""Checks of the Chatwoot configuration, each with a concrete fix (used by `manage.py check_chatwoot`)."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from handoff.chatwoot import (
    ChatwootAuthError,
    ChatwootClient,
    ChatwootConfigurationError,
    ChatwootError,
    ChatwootTransientError,
)
from handoff.models import ChatwootInbox, RoutingRule
from handoff.routing import inbox_members
from handoff.services.chatwoot import CHATWOOT_SETTINGS, chatwoot_for
from handoff.services.inboxes import inbox_refusal, inboxes_refresh
from handoff.throttle import ChatwootDeferred
from leads.models import Lead


@dataclass(frozen=True)
class Check:
    ok: bool
    label: str
    fix: str = ""


def chatwoot_checks() -> Iterator[Check]:
    """Stops at the first check later ones depend on (no URL → no token check)."""
    missing = [name for name in CHATWOOT_SETTINGS if not getattr(settings, name)]
    if missing:
        yield Check(False, "Configuração", f"Defina {', '.join(missing)} no ambiente ou no .env (veja o README).")
        return
    yield Check(True, "Configuração completa")
    try:
        client = chatwoot_for(step="check")
    except ChatwootConfigurationError as err:
        yield Check(False, f"Endereço ou configuração ({settings.CHATWOOT_BASE_URL})", str(err))
        return
    try:
        profile = yield from _token_checks(client)
        if profile is not None:
            yield from _account_checks(client, profile)
    except ChatwootDeferred as err:
        # The checks' calls share the budget and the 429 pause with the workers, and are audited like theirs.
        yield Check(False, "Limite de requisições do Chatwoot", f"{err}: rode a verificação de novo depois disso.")


def _token_checks(client: ChatwootClient):
    base = settings.CHATWOOT_BASE_URL
    try:
        profile = client.profile()
    except ChatwootConfigurationError as err:  # the address changed to a private one after the client checked it
        yield Check(False, f"Chatwoot em {base}", str(err))
        return None
    except ChatwootTransientError as err:
        yield Check(False, f"Chatwoot em {base}", f"Sem resposta ({err}). Confira a URL, o DNS e o firewall.")
        return None

    except ChatwootAuthError as err:
        if "bots" in str(err).lower():
            fix = "Este é um token de bot ou de plataforma (A.2): use o token de acesso de um usuário (Perfil)."
        else:
            fix = "Token inválido. Copie o token de acesso em Perfil → Token de acesso no Chatwoot."
        yield Check(False, "Token de acesso", fix)
        return None
    except ChatwootError as err:
        yield Check(False, f"Chatwoot em {base}", f"Resposta inesperada: {err}. A URL aponta para o Chatwoot?")
        return None
    yield Check(True, f"Chatwoot em {base} responde; token de usuário de {profile.name}")
    return profile


def _account_checks(client: ChatwootClient, profile) -> Iterator[Check]:
    account = settings.CHATWOOT_ACCOUNT_ID
    role = profile.account_roles.get(account)
    if role is None:
        yield Check(
            False,
            f"Conta {account}",
            f"{profile.name} não pertence à conta {account}. Contas: "
            f"{sorted(profile.account_roles) or 'nenhuma'}. Corrija CHATWOOT_ACCOUNT_ID.",
        )
        return
    if role != "administrator":
        yield Check(
            False,
            f"Papel na conta {account}: {role}",
            "Use o token de um administrador: um agente que "
            "reabre conversas é atribuído a elas (C.3) e não pode listar os membros da caixa (E).",
        )
    else:
        yield Check(True, f"Conta {account}: administrador")
    try:
        client.contacts_filter([("identifier", "nexa-check")])
        yield Check(True, "Leitura de contatos")
    except ChatwootError as err:
        yield Check(False, "Leitura de contatos", f"O token não lê contatos ({err}).")
    yield from _inbox_checks(client)


KIND_MEANING = {
    ChatwootInbox.Kind.EVOLUTION: "o Evolution API leva as respostas dos agentes ao WhatsApp do lead",
    ChatwootInbox.Kind.WHATSAPP: "o Chatwoot leva as respostas ao WhatsApp do lead; texto livre só até 24 h "
    "depois da última mensagem dele, depois disso um modelo aprovado",
    ChatwootInbox.Kind.API: "ninguém leva as respostas dos agentes ao WhatsApp, a não ser que algo escute o "
    "webhook da caixa — veja os eventos de saída",
}


def _inbox_checks(client: ChatwootClient) -> Iterator[Check]:
    """Every inbox Nexa will use (the default, the routing rules', the leads'), with what its kind means for the
    lead's replies (CHANNELS §1); kinds that cannot reach WhatsApp are refused."""
    try:
        inboxes = {inbox.pk: inbox for inbox in inboxes_refresh(client)}
    except ChatwootError as err:
        yield Check(False, "Caixas de entrada", str(err))
        return
    used = _inboxes_in_use()
    for inbox_id, why in used.items():
        yield _inbox_check(inboxes.get(inbox_id), inbox_id, why)
    for inbox_id in used:
        if inbox_id in inboxes and inboxes[inbox_id].served:
            yield from _assignment_checks(client, inboxes[inbox_id])


def _inbox_check(inbox: ChatwootInbox | None, inbox_id: int, why: str) -> Check:
    if inbox is None:
        return Check(
            False,
            f"Caixa de entrada {inbox_id} ({why})",
            "Não existe nesta conta. Veja o id em Configurações → Caixas de entrada e corrija CHATWOOT_INBOX_ID "
            "(ou a regra de roteamento).",
        )
    where = ", ".join(filter(None, [inbox.phone_number, inbox.instance and f"instância {inbox.instance}"]))
    label = f"Caixa de entrada {inbox.pk}: {inbox.name}{f' ({where})' if where else ''} — {why}"
    if not inbox.served:
        return Check(
            False,
            f"{label}: {inbox.channel_type}",
            f"O Nexa não transfere para ela: {inbox_refusal(inbox)}. Use uma caixa do Evolution API, "
            "a caixa de WhatsApp do Chatwoot ou uma caixa de API.",
        )
    return Check(True, f"{label}: {inbox.get_kind_display()}; {KIND_MEANING[inbox.kind]}")


def _inboxes_in_use() -> dict[int, str]:
    used = {settings.CHATWOOT_INBOX_ID: "padrão (CHATWOOT_INBOX_ID)"}
    for rule in RoutingRule.objects.filter(enabled=True, inbox_id__isnull=False):
        used.setdefault(rule.inbox_id, f"regra {rule.name}")
    leads = Lead.objects.exclude(chatwoot_inbox_id=None).values_list("chatwoot_inbox_id", flat=True).distinct()
    for inbox_id in leads.order_by("chatwoot_inbox_id")[:50]:
        used.setdefault(inbox_id, "caixa de leads")
    return used


def _assignment_checks(client: ChatwootClient, inbox: ChatwootInbox) -> Iterator[Check]:
    """Who can be assigned in an inbox Nexa hands off into, and whether Chatwoot would assign first (E)."""
    inbox_id = inbox.pk
    if inbox.auto_assignment:  # as the inbox list just read it
        yield Check(
            False,
            f"Atribuição automática do Chatwoot ligada na caixa {inbox_id}",
            "Com o rodízio do Nexa, desligue a "
            "atribuição automática da caixa (E), ou use a estratégia 'chatwoot' nas regras de roteamento.",
        )
    members = inbox_members(client, inbox_id)
    if not members:
        yield Check(
            False,
            f"Agentes da caixa {inbox_id}",
            "Nenhum agente na caixa: adicione agentes em Configurações → Caixas de entrada → Colaboradores.",
        )
        return
    online = sum(1 for agent in members if agent.availability_status == "online")
    yield Check(True, f"Agentes da caixa {inbox_id}: {len(members)} ({online} online agora)")
