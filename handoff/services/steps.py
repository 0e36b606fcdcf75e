"""The handoff's steps in Chatwoot; each one skips what its checkpoint says is done, so none is ever repeated.

Chatwoot facts cited by section are in ../shared/chatwoot/API-NOTES.md.
"""

import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from handoff.chatwoot import ChatwootClient, ChatwootPermanentError, Contact
from handoff.models import Handoff, HandoffEvent
from handoff.notes import note_marker, note_parts
from handoff.routing import routing_decide
from handoff.services.conversations import outcome_for, resolution_apply
from handoff.services.lifecycle import handoff_event
from leads.models import BotConversation, Lead, Message
from leads.phones import phone_twin

Kind = HandoffEvent.Kind

CHATWOOT_E164 = re.compile(r"\+[1-9]\d{1,14}")  # B.2, anchored at both ends here
REUSABLE_STATUSES = ("open", "pending", "snoozed")
ATTRIBUTE_MAX = 1500  # C.1: longer custom attribute strings are a 422


class HandoffImpossible(Exception):
    """This lead cannot be handed off as it is (e.g. no usable phone); retrying will not help."""


def contact(run, client: ChatwootClient) -> None:
    """a. Find the contact by phone, twin or identifier, else create it; keep its contact_inbox source_id."""
    handoff, lead = run.handoff, run.handoff.lead
    if not CHATWOOT_E164.fullmatch(lead.phone):
        raise HandoffImpossible(f"O telefone {lead.phone!r} não está no formato E.164 que o Chatwoot exige.")
    found = None
    if handoff.contact_id is None:
        found = _contact_find_or_create(run, client, lead)
    if not handoff.contact_synced:
        client.contact_update(handoff.contact_id, custom_attributes=_contact_attributes(lead))  # B.5: merged
        run.checkpoint(contact_synced=True)
    if not handoff.contact_source_id:
        current = found or client.contact_get(handoff.contact_id)
        source_id = current.source_id_for(client.settings.inbox_id)
        if not source_id:
            # B.6: with our own source_id the call is idempotent; without one, each call adds a contact_inbox.
            source_id = client.contact_inbox_create(
                handoff.contact_id, inbox_id=client.settings.inbox_id, source_id=_source_id(lead)
            ).source_id
        run.checkpoint(contact_source_id=source_id)


def _contact_find_or_create(run, client: ChatwootClient, lead: Lead) -> Contact:
    found = _contact_find(client, lead)
    if found:
        handoff_event(run.handoff, Kind.CONTACT, f"Contato {found.id} encontrado no Chatwoot.")
        run.checkpoint(contact_id=found.id)
        return found
    fields = {
        "identifier": _identifier(lead),
        "name": lead.name[:255],
        "email": lead.email,
        "phone_number": lead.phone,
        "custom_attributes": _contact_attributes(lead),
    }
    try:
        created, source_id = _contact_create(client, lead, fields)
    except ChatwootPermanentError as err:
        # B.2: a duplicate is a 422 naming the attributes but not the contact. Ours (same identifier, phone
        # or twin, created meanwhile) is adopted; another person's e-mail never merges two phones.
        adopted = _contact_find(client, lead) if err.status == 422 else None
        if adopted is None:
            raise
        handoff_event(run.handoff, Kind.CONTACT, f"Contato {adopted.id} já existia ({', '.join(err.attributes)}).")
        run.checkpoint(contact_id=adopted.id)
        return adopted
    run.contact_created = True
    handoff_event(run.handoff, Kind.CONTACT, f"Contato {created.id} criado no Chatwoot.")
    run.checkpoint(contact_id=created.id, contact_synced=True, contact_source_id=source_id or "")
    return created


def _contact_create(client: ChatwootClient, lead: Lead, fields: dict):
    inbox_id, source_id = client.settings.inbox_id, _source_id(lead)
    try:
        return client.contact_create(inbox_id=inbox_id, source_id=source_id, **fields)
    except ChatwootPermanentError as err:
        if err.status != 422 or err.attributes != ["email"] or _contact_find(client, lead):
            raise
        # The e-mail belongs to another contact (another phone): keep the two people apart.
        return client.contact_create(inbox_id=inbox_id, source_id=source_id, **{**fields, "email": ""})


def _contact_find(client: ChatwootClient, lead: Lead) -> Contact | None:
    """One filter call (B.4): our identifier first, then the exact phone, then its 9th-digit twin."""
    wanted = [("identifier", _identifier(lead)), ("phone_number", lead.phone)]
    twin = phone_twin(lead.phone)
    if twin:
        wanted.append(("phone_number", twin))
    matches = client.contacts_filter(wanted)
    for key, value in wanted:
        for match in matches:
            if _same(key, getattr(match, key), value):
                return match
    return None


def conversation(run, client: ChatwootClient) -> None:
    """b. Reuse the contact's open conversation in the inbox, else create one carrying the first note part."""
    handoff = run.handoff
    if handoff.conversation_id:
        return
    inbox_id = client.settings.inbox_id
    existing = [] if run.contact_created else client.contact_conversations(handoff.contact_id)
    ours = next((c for c in existing if c.custom_attributes.get("handoff_id") == str(handoff.pk)), None)
    if ours:
        # An earlier write succeeded without an answer: a create (whose first message is our note's first
        # part), or the attributes of a reused conversation (conversation_reused was saved before it).
        handoff_event(handoff, Kind.CONVERSATION, f"Conversa {ours.id} já marcada por esta transferência.")
        pending = 1 if not handoff.note_message_ids else None
        run.checkpoint(conversation_id=ours.id, note_pending_part=pending)
        return
    reusable = next((c for c in existing if c.inbox_id == inbox_id and c.status in REUSABLE_STATUSES), None)
    if reusable:
        _conversation_reuse(run, client, reusable)
        return
    _conversation_create(run, client)


def _conversation_reuse(run, client: ChatwootClient, conversation) -> None:
    handoff = run.handoff
    run.checkpoint(conversation_reused=True)  # first: a lost answer below must not make it look like ours
    if conversation.status != "open":
        client.conversation_status_set(conversation.id, "open")
    client.conversation_custom_attributes_set(
        conversation.id, {**conversation.custom_attributes, **_attributes(handoff)}
    )  # C.5: replaces the hash, so merged here
    handoff_event(handoff, Kind.CONVERSATION, f"Conversa {conversation.id} ({conversation.status}) reaproveitada.")
    run.checkpoint(conversation_id=conversation.id)


def _conversation_create(run, client: ChatwootClient) -> None:
    handoff = run.handoff
    parts = _note_parts(handoff)
    run.checkpoint(note_pending_part=1)  # the create carries part 1: after a lost answer, look before posting
    created = client.conversation_create(
        inbox_id=client.settings.inbox_id,
        contact_id=handoff.contact_id,
        source_id=handoff.contact_source_id,  # C.1: without it, every call makes a new conversation
        status="open",
        custom_attributes=_attributes(handoff),
        message={"content": parts[0], "message_type": "outgoing", "private": True},
    )
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
    )
    if created.status != "open":
        # C.1: an inbox with an active agent bot forces new conversations to pending.
        client.conversation_status_set(created.id, "open")
    handoff_event(handoff, Kind.CONVERSATION, f"Conversa {created.id} criada com a nota do bot.")


def note(run, client: ChatwootClient) -> None:
    """c. Post each part of the bot-history note once; after a lost answer, look for the part's marker first."""
    handoff = run.handoff
    parts = _note_parts(handoff)
    ids = list(handoff.note_message_ids)
    while len(ids) < len(parts):
        part = len(ids) + 1
        if handoff.note_pending_part == part:
            found = _message_with(client, handoff.conversation_id, note_marker(handoff.pk, part, len(parts)))
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
    wanted = current + [label for label in settings.HANDOFF_LABELS if label not in current]
    if wanted != current:
        client.conversation_labels_set(handoff.conversation_id, wanted)
    run.checkpoint(labels=wanted)


def assignment(run, client: ChatwootClient) -> None:
    """e. Decide once (the decision is saved before acting), then assign the team and the agent."""
    handoff = run.handoff
    if handoff.assignment_done:
        return
    if not handoff.routing:
        run.checkpoint(routing=_routing(run, client))
    decision = handoff.routing
    if decision.get("team_id") and not handoff.team_id:
        team = client.conversation_assign_team(handoff.conversation_id, decision["team_id"])
        if team is None:
            raise HandoffImpossible(
                f"O Chatwoot não conhece o time {decision['team_id']}: corrija a regra de roteamento."
            )
        run.checkpoint(team_id=team.id, team_name=team.name)
    if decision.get("agent_id") and not handoff.assignee_id:
        # After the team: C.1 clears an assignee who is not in the conversation's team.
        agent = client.conversation_assign_agent(handoff.conversation_id, decision["agent_id"])
        if agent is None:
            raise HandoffImpossible(
                f"O Chatwoot não aceitou o agente {decision['agent_id']} (C.4: id desconhecido desatribui). "
                "Corrija a regra de roteamento e repita a transferência."
            )
        run.checkpoint(assignee_id=agent.id, assignee_name=agent.name)
    run.checkpoint(assignment_done=True)
    handoff_event(handoff, Kind.ASSIGNED, decision.get("reason") or "Atribuição concluída.", **decision)


def _routing(run, client: ChatwootClient) -> dict:
    handoff = run.handoff
    if handoff.conversation_reused:
        current = client.conversation_get(handoff.conversation_id)
        if current.assignee_id:
            return {
                "strategy": "kept",
                "rule": "",
                "agent_id": None,
                "kept_agent_id": current.assignee_id,
                "agent_name": current.assignee_name,
                "reason": f"A conversa já estava com {current.assignee_name}; mantida.",
            }
    return routing_decide(lead=handoff.lead, client=client, handoff=handoff).as_dict()


def finish(run) -> None:
    """f. The lead is with a human: its status, its Chatwoot ids, and the bot conversation marked handed off."""
    handoff = run.handoff
    now = timezone.now()
    with transaction.atomic():
        # The handoff row first, then the lead, as services.conversations locks them: a status Chatwoot reported
        # while this handoff was in progress is read here, or its webhook waits and then finds the handoff done.
        reported = Handoff.objects.select_for_update().values("chatwoot_status", "outcome").get(pk=handoff.pk)
        lead = Lead.objects.select_for_update().get(pk=handoff.lead_id)
        lead.status = Lead.Status.HANDED_OFF
        lead.chatwoot_contact_id, lead.chatwoot_conversation_id = handoff.contact_id, handoff.conversation_id
        lead.save(update_fields=["status", "chatwoot_contact_id", "chatwoot_conversation_id", "updated_at"])
        BotConversation.objects.filter(lead=lead, status=BotConversation.Status.ACTIVE).update(
            status=BotConversation.Status.HANDED_OFF, handoff_at=now
        )
        kept = handoff.routing.get("kept_agent_id")
        run.checkpoint(
            state=Handoff.State.DONE,
            finished_at=now,
            claim_token=None,
            lease_expires_at=None,
            last_error="",
            **({"assignee_id": kept, "assignee_name": handoff.routing.get("agent_name", "")} if kept else {}),
        )
        handoff_event(handoff, Kind.DONE, f"Com um humano no Chatwoot (conversa {handoff.conversation_id}).")
        if reported["chatwoot_status"] == "resolved":
            _resolved_meanwhile(handoff, lead, reported["outcome"])


def _resolved_meanwhile(handoff: Handoff, lead: Lead, outcome: str) -> None:
    """Chatwoot resolved the conversation before the handoff finished: the lead ends as Chatwoot says."""
    resolution_apply(handoff, lead, outcome or outcome_for([]))
    Handoff.objects.filter(pk=handoff.pk).update(resolved_at=handoff.resolved_at, outcome=handoff.outcome)


def _note_parts(handoff: Handoff) -> list[str]:
    """The history up to the first attempt (history_until), so every attempt renders the same parts."""
    history = Message.objects.filter(conversation__lead_id=handoff.lead_id, created_at__lte=handoff.history_until)
    messages = list(history.order_by("created_at", "id"))
    return note_parts(
        handoff_id=handoff.pk,
        lead=handoff.lead,
        messages=messages,
        score=handoff.score,
        max_chars=settings.HANDOFF_NOTE_MAX_CHARS,
    )


def _message_with(client: ChatwootClient, conversation_id: int, marker: str) -> int | None:
    return next((m.id for m in client.messages_latest(conversation_id) if marker in m.content), None)


def _attributes(handoff: Handoff) -> dict:
    lead = handoff.lead
    return {
        "atlas_lead_id": lead.external_id or str(lead.pk),
        "qualification_score": handoff.score,
        "interest": lead.interest[:ATTRIBUTE_MAX],
        "handoff_reason": handoff.reason[:ATTRIBUTE_MAX],
        "handoff_id": str(handoff.pk),
    }


def _contact_attributes(lead: Lead) -> dict:
    last_bot = (
        Message.objects.filter(conversation__lead=lead, sender=Message.Sender.BOT)
        .order_by("-created_at", "-id")
        .values_list("content", flat=True)
        .first()
    )
    return {
        "atlas_lead_id": lead.external_id or str(lead.pk),
        "qualification_score": lead.qualification_score,
        "interest": lead.interest[:ATTRIBUTE_MAX],
        "source": "atlas_nexa",
        "last_bot_message": (last_bot or "")[:ATTRIBUTE_MAX],
    }


def _identifier(lead: Lead) -> str:
    return f"nexa-lead-{lead.pk}"


def _source_id(lead: Lead) -> str:
    return f"nexa-{lead.pk}"


def _same(key: str, actual: str, wanted: str) -> bool:
    if key == "phone_number":
        return actual.lstrip("+") == wanted.lstrip("+")
    return actual.lower() == wanted.lower()
