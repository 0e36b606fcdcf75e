"""Checks of the Chatwoot configuration, each with a concrete fix (used by `manage.py check_chatwoot`)."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from handoff.chatwoot import (
    ChatwootAuthError,
    ChatwootClient,
    ChatwootConfigurationError,
    ChatwootError,
    ChatwootNotFound,
    ChatwootTransientError,
)
from handoff.routing import inbox_members
from handoff.services.chatwoot import CHATWOOT_SETTINGS, chatwoot_for
from handoff.throttle import ChatwootDeferred


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


def _inbox_checks(client: ChatwootClient) -> Iterator[Check]:
    inbox_id = settings.CHATWOOT_INBOX_ID
    try:
        inbox = client.inbox_get(inbox_id)
    except ChatwootNotFound:
        yield Check(
            False,
            f"Caixa de entrada {inbox_id}",
            "Não existe nesta conta. Veja o id em Configurações → Caixas de entrada e corrija CHATWOOT_INBOX_ID.",
        )
        return
    except ChatwootError as err:
        yield Check(False, f"Caixa de entrada {inbox_id}", str(err))
        return
    yield Check(True, f"Caixa de entrada {inbox_id}: {inbox.get('name', '')} ({inbox.get('channel_type', '')})")
    if inbox.get("channel_type") != "Channel::Api":
        yield Check(
            False,
            f"Canal da caixa {inbox_id}: {inbox.get('channel_type')}",
            "Use uma caixa do tipo API: "
            "o Nexa cria contatos com seu próprio source_id, que só serve para caixas de API (B.1, C.1).",
        )
    if inbox.get("enable_auto_assignment"):
        yield Check(
            False,
            "Atribuição automática do Chatwoot ligada",
            "Com o rodízio do Nexa, desligue a "
            "atribuição automática da caixa (E), ou use a estratégia 'chatwoot' nas regras de roteamento.",
        )
    members = inbox_members(client, inbox_id)
    if not members:
        yield Check(
            False,
            "Agentes da caixa",
            "Nenhum agente na caixa: adicione agentes em Configurações → Caixas de entrada → Colaboradores.",
        )
        return
    online = sum(1 for agent in members if agent.availability_status == "online")
    yield Check(True, f"Agentes da caixa: {len(members)} ({online} online agora)")
