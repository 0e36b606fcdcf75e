"""0. The inbox the handoff goes to, as Nexa knows it: its kind decides how the contact is reached (CHANNELS §1)."""

from django.conf import settings

from handoff.chatwoot import ChatwootClient
from handoff.services.inboxes import inbox_for_handoff, inbox_refusal
from handoff.services.steps.common import HandoffImpossible


def inbox(run, client: ChatwootClient) -> None:
    """Load the handoff's inbox (refreshing the list from Chatwoot once when Nexa does not know it yet)."""
    handoff = run.handoff
    inbox_id = handoff.inbox_id or settings.CHATWOOT_INBOX_ID
    found = inbox_for_handoff(inbox_id, client)
    if found is None:
        raise HandoffImpossible(
            f"A caixa de entrada {inbox_id} não existe no Chatwoot: confira CHATWOOT_INBOX_ID, as regras de "
            "roteamento e a caixa do lead (`python manage.py check_chatwoot` lista as caixas)."
        )
    if not found.served:
        raise HandoffImpossible(f"A caixa de entrada {found}: {inbox_refusal(found)}.")
    if handoff.inbox_id != inbox_id:
        run.checkpoint(inbox_id=inbox_id)
    run.inbox = found
