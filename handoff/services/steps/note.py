"""c. and d. The bot-history note, part by part, and the labels, merged (C.5, D)."""

from django.conf import settings
from django.utils import timezone

from handoff.chatwoot import ChatwootClient
from handoff.models import Handoff
from handoff.notes import note_marker, note_parts
from handoff.services.lifecycle import site_label
from leads.models import Lead, Message


def note(run, client: ChatwootClient) -> None:
    """c. Post each part of the bot-history note once; after a lost answer, look for the part's marker first."""
    handoff = run.handoff
    parts = run.note_parts
    ids = list(handoff.note_message_ids)
    while len(ids) < len(parts):
        part = len(ids) + 1
        if handoff.note_pending_part == part:
            found = message_with(client, handoff.conversation_id, note_marker(handoff.pk, part, len(parts)))
            if found:
                ids.append(found)
                run.checkpoint(note_message_ids=ids, note_pending_part=None)
                continue
        run.checkpoint(note_pending_part=part)
        posted = client.message_create(handoff.conversation_id, content=parts[part - 1], private=True)
        ids.append(posted.id)
        run.checkpoint(note_message_ids=ids, note_pending_part=None)
    if handoff.note_pending_part is not None:
        run.checkpoint(note_pending_part=None)


def labels(run, client: ChatwootClient) -> None:
    """d. Read, merge, write: C.5 says POST replaces the list, and an agent's labels must survive."""
    handoff = run.handoff
    if handoff.labels is not None:
        return
    current = [] if run.conversation_created else client.conversation_labels(handoff.conversation_id)
    ours = [*settings.HANDOFF_LABELS]
    if handoff.sample:
        ours.append(settings.HANDOFF_CALIBRATION_LABEL)
    wanted = current + [label for label in ours if label not in current]
    if wanted != current:
        client.conversation_labels_set(handoff.conversation_id, wanted)
    run.checkpoint(labels=wanted, later=True)  # a repeat reads the labels, finds them merged and writes nothing


def handoff_history(handoff: Handoff) -> list[Message]:
    """The lead's messages up to the first attempt (history_until), oldest first: what every attempt renders."""
    history = Message.objects.filter(conversation__lead_id=handoff.lead_id, created_at__lte=handoff.history_until)
    return list(history.order_by("created_at", "id"))


def handoff_note_parts(handoff: Handoff, history: list[Message]) -> list[str]:
    """The note of `history` (handoff_history), so every attempt renders the same parts.

    A returning lead's note shows its earlier handoff and the messages since it ended.
    """
    earlier = _earlier_handoff(handoff) if handoff.trigger == Handoff.Trigger.RETURNED else None
    if earlier is not None and earlier.finished_at:
        history = [message for message in history if message.created_at > earlier.finished_at]
    return note_parts(
        handoff_id=handoff.pk,
        lead=handoff.lead,
        messages=history,
        score=handoff.score,
        max_chars=settings.HANDOFF_NOTE_MAX_CHARS,
        returning=_earlier_summary(earlier) if earlier is not None else "",
        warning=whatsapp_window_warning(handoff),
        sample=handoff.sample,
    )


def whatsapp_window_warning(handoff: Handoff) -> str:
    """CHANNELS §3: in a WhatsApp inbox free text reaches the lead only within 24 h of its last message in that
    conversation; the conversation step decides it (reply_window_closed) before any note part is written."""
    if not handoff.reply_window_closed:
        return ""
    return (
        "O lead não escreveu nas últimas 24 h nesta conversa do WhatsApp: comece com um modelo (template) aprovado; "
        "texto livre não será entregue."
    )


def _earlier_handoff(handoff: Handoff) -> Handoff | None:
    earlier = Handoff.objects.filter(
        lead_id=handoff.lead_id, state=Handoff.State.DONE, created_at__lt=handoff.created_at
    )
    return earlier.order_by("-created_at").first()


def _earlier_summary(earlier: Handoff) -> str:
    outcome = site_label(Lead.Status, earlier.outcome) if earlier.outcome else "sem resultado registrado"
    when = f"{timezone.localtime(earlier.finished_at):%d/%m/%Y}" if earlier.finished_at else "?"
    agent = earlier.assignee_name or "nenhum agente"
    return f"transferido em {when} (conversa {earlier.conversation_id}), com {agent}; resultado: {outcome}."


def message_with(client: ChatwootClient, conversation_id: int, marker: str) -> int | None:
    return next((m.id for m in client.messages_latest(conversation_id) if marker in m.content), None)
