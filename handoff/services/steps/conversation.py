"""b. The conversation: the contact's open one in the inbox reused, else created with the note's first part (C)."""

from handoff.chatwoot import ChatwootClient, ChatwootTransientError
from handoff.models import ChatwootInbox, Handoff, HandoffEvent
from handoff.notes import note_marker
from handoff.services.lifecycle import handoff_event
from handoff.services.steps.assignment import routing_for
from handoff.services.steps.common import ATTRIBUTE_MAX
from handoff.services.webhooks import conversation_messages_replay

Kind = HandoffEvent.Kind


REUSABLE_STATUSES = ("open", "pending", "snoozed")


def conversation(run, client: ChatwootClient) -> None:
    """b. Reuse the contact's open conversation in the inbox, else create one carrying the first note part.

    Reusing is what keeps the lead's WhatsApp thread whole: it is the conversation Evolution or Chatwoot's WhatsApp
    inbox puts the lead's messages in (the most recently active non-resolved one, CHANNELS §2.2, §3).
    """
    handoff = run.handoff
    if handoff.conversation_id:
        return
    if handoff.returned_conversation_id:
        # The conversation a returning lead opened by writing again: the one its messages are in.
        _conversation_reuse(run, client, client.conversation_get(handoff.returned_conversation_id))
        conversation_messages_replay(handoff.returned_conversation_id)
        return
    inbox_id = run.inbox.id
    if run.conversations is None:
        run.conversations = [] if run.contact_created else client.contact_conversations(handoff.contact_id)
    existing = run.conversations
    mark = str(handoff.pk)
    ours = next((c for c in existing if c.custom_attributes.get("handoff_id") == mark and c.inbox_id == inbox_id), None)
    if ours:
        # An earlier write succeeded without an answer: a create (whose first message is our note's first
        # part), or the attributes of a reused conversation (conversation_reused was saved before it).
        handoff_event(handoff, Kind.CONVERSATION, f"Conversa {ours.id} já marcada por esta transferência.")
        # Created by this attempt's create, seconds ago: no label to keep (the labels step need not read them).
        run.conversation_created = run.conversation_sent
        pending = 1 if not handoff.note_message_ids else None
        run.checkpoint(conversation_id=ours.id, note_pending_part=pending, **owner_taken(handoff, ours))
        return
    reusable = next((c for c in existing if c.inbox_id == inbox_id and c.status in REUSABLE_STATUSES), None)
    if reusable:
        _conversation_reuse(run, client, reusable)
        return
    _conversation_create(run, client)


def _conversation_reuse(run, client: ChatwootClient, conversation) -> None:
    handoff = run.handoff
    # First: a lost answer below must not make it look like ours; and the note, posted next, knows the window.
    closed = run.inbox.kind == ChatwootInbox.Kind.WHATSAPP and not conversation.can_reply
    run.checkpoint(conversation_reused=True, reply_window_closed=closed)
    run.reused = conversation
    if conversation.status != "open":
        client.conversation_status_set(conversation.id, "open")
    client.conversation_custom_attributes_set(
        conversation.id, {**conversation.custom_attributes, **_attributes(handoff)}
    )  # C.5: replaces the hash, so merged here
    handoff_event(handoff, Kind.CONVERSATION, f"Conversa {conversation.id} ({conversation.status}) reaproveitada.")
    run.checkpoint(conversation_id=conversation.id)


def _conversation_create(run, client: ChatwootClient) -> None:
    handoff = run.handoff
    # The create carries part 1: after a lost answer, look before posting. In a WhatsApp inbox a conversation the
    # lead never wrote in takes no free text (CHANNELS §3): part 1 says so.
    closed = run.inbox.kind == ChatwootInbox.Kind.WHATSAPP
    # Routing is decided (and saved) before the create, which assigns in the same call (C.1: assignee_id, team_id).
    routing = {} if handoff.routing else {"routing": routing_for(run, client)}
    run.checkpoint(note_pending_part=1, reply_window_closed=closed, **routing)
    parts = run.note_parts
    owner = {"assignee_id": handoff.routing.get("agent_id"), "team_id": handoff.routing.get("team_id")}
    try:
        created = client.conversation_create(
            inbox_id=run.inbox.id,
            contact_id=handoff.contact_id,
            source_id=handoff.contact_source_id,  # C.1: without it, every call makes a new conversation
            status="open",
            custom_attributes=_attributes(handoff),
            message={"content": parts[0], "message_type": "outgoing", "private": True},
            **{key: value for key, value in owner.items() if value},
        )
    except ChatwootTransientError as err:
        if err.ambiguous:  # the new contact may have this create's conversation now: the step run again looks
            run.contact_created, run.conversation_sent = False, True
        raise
    if created.custom_attributes.get("handoff_id") != str(handoff.pk):
        # C.1: an inbox locked to a single conversation answers a create with the contact's last conversation.
        _conversation_reuse(run, client, created)
        return
    run.conversation_created = True
    marker = note_marker(handoff.pk, 1, len(parts))
    note = next((m for m in created.messages if marker in m.content), None)
    run.checkpoint(
        conversation_id=created.id,
        note_message_ids=[note.id] if note else [],
        note_pending_part=None if note else 1,
        **owner_taken(handoff, created),
    )
    if created.status != "open":
        # C.1: an inbox with an active agent bot forces new conversations to pending.
        client.conversation_status_set(created.id, "open")
    handoff_event(handoff, Kind.CONVERSATION, f"Conversa {created.id} criada com a nota do bot.")


def owner_taken(handoff: Handoff, conversation) -> dict:
    """The team and agent the create already gave the conversation, as the routing decided them: the assignment
    step does not ask again. C.1 silently drops an agent outside the team: then the step assigns as before."""
    decision, taken = handoff.routing or {}, {}
    if decision.get("team_id") and conversation.team_id == decision["team_id"]:
        taken.update(team_id=conversation.team_id, team_name=conversation.team_name)
    if decision.get("agent_id") and conversation.assignee_id == decision["agent_id"]:
        taken.update(assignee_id=conversation.assignee_id, assignee_name=conversation.assignee_name)
    return taken


def _attributes(handoff: Handoff) -> dict:
    lead = handoff.lead
    return {
        "atlas_lead_id": lead.external_id or str(lead.pk),
        "qualification_score": handoff.score,
        "interest": lead.interest[:ATTRIBUTE_MAX],
        "handoff_reason": handoff.reason[:ATTRIBUTE_MAX],
        "handoff_id": str(handoff.pk),
    }
