"""What each Chatwoot event means for Nexa: a table from event name to a small handler (API-NOTES F).

Handlers run inside one transaction, are idempotent (a reprocessed delivery changes nothing twice), and never
move a lead backwards: conversation states older than the newest one applied are skipped (F.2: no ordering).
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from handoff.models import Handoff, HandoffEvent
from leads import services as lead_services
from leads.models import MESSAGE_MAX_CHARS, BotConversation, Lead, Message
from leads.phones import InvalidPhone, phone_parse


class EventIgnored(Exception):
    """About something Nexa does not know, or nothing to do: stored, marked ignored, no side effects."""


def event_apply(event: str, body: str) -> str:
    payload = json.loads(body)
    return HANDLERS[event](payload)


def conversation_display_id(payload: dict) -> int | None:
    """C.0: conversation events carry the display id as `id`; message events as `conversation.id`."""
    event = payload.get("event", "")
    raw = (payload.get("conversation") or {}).get("id") if event.startswith("message_") else payload.get("id")
    if event.startswith("contact_"):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def conversation_changed(payload: dict) -> str:
    """conversation_status_changed / conversation_updated: the status is read from the body, always (F.2, F.4)."""
    handoff = _handoff_locked(conversation_display_id(payload))
    updated = _epoch(payload.get("updated_at"))
    handoff.chatwoot_heard_at = timezone.now()
    if handoff.chatwoot_updated_at is not None and updated is not None and updated <= handoff.chatwoot_updated_at:
        handoff.save(update_fields=["chatwoot_heard_at"])
        return "estado antigo ou repetido: ignorado"
    results = [_owner_apply(handoff, payload), _status_apply(handoff, payload), _first_reply_from(handoff, payload)]
    handoff.chatwoot_updated_at = updated if updated is not None else handoff.chatwoot_updated_at
    handoff.chatwoot_status = str(payload.get("status") or handoff.chatwoot_status)
    handoff.save()
    return "; ".join(result for result in results if result) or "sem mudança"


def message_created(payload: dict) -> str:
    """Mirror the conversation into the lead's transcript; record the first human public reply."""
    handoff = _handoff_locked(conversation_display_id(payload))
    content = str(payload.get("content") or "")
    if payload.get("private"):
        if "nexa-handoff:" in content or "nexa-escalation:" in content:
            raise EventIgnored("a nota do próprio Nexa")
        raise EventIgnored("nota privada: não vai para a transcrição")
    sender = _message_sender(payload)
    if sender is None:
        raise EventIgnored("mensagem de automação, sem remetente")
    sent_at = parse_datetime(str(payload.get("created_at") or "")) or timezone.now()
    text = content or _attachments_text(payload)
    added = lead_services.messages_add(
        lead=handoff.lead,
        messages=[
            lead_services.NewMessage(
                sender=sender,
                content=text[:MESSAGE_MAX_CHARS],
                created_at=sent_at,
                external_id=f"chatwoot:{payload['id']}",
            )
        ],
    )
    handoff.chatwoot_heard_at = timezone.now()
    first = _first_reply(handoff, sent_at, (payload.get("sender") or {}).get("name", "")) if sender == "agent" else ""
    handoff.save()
    return "; ".join(filter(None, ["mensagem espelhada" if added.created else "mensagem já conhecida", first]))


def conversation_created(payload: dict) -> str:
    """A new conversation of a contact Nexa knows: the lead came back. Nexa's own conversations are no news."""
    display_id = conversation_display_id(payload)
    handoff_id = (payload.get("custom_attributes") or {}).get("handoff_id")
    if handoff_id and Handoff.objects.filter(pk=_uuid_or_none(handoff_id)).exists():
        return "conversa criada pelo próprio Nexa"
    contact_id = ((payload.get("meta") or {}).get("sender") or {}).get("id") or (
        payload.get("contact_inbox") or {}
    ).get("contact_id")
    lead = Lead.objects.select_for_update().filter(chatwoot_contact_id=contact_id).first() if contact_id else None
    if lead is None:
        raise EventIgnored("contato desconhecido")
    if lead.handoffs.filter(conversation_id=display_id).exists():
        return "conversa já conhecida"
    if lead.handoffs.filter(state__in=Handoff.ACTIVE_STATES).exists():
        return "transferência em andamento: ela vai reaproveitar esta conversa"
    now = timezone.now()
    handoff = Handoff.objects.create(
        lead=lead,
        trigger=Handoff.Trigger.RETURNED,
        state=Handoff.State.DONE,
        reason="O lead voltou pelo Chatwoot",
        score=lead.qualification_score,
        contact_id=contact_id,
        conversation_id=display_id,
        finished_at=now,
        sla_started_at=now,
        chatwoot_heard_at=now,
        chatwoot_status=str(payload.get("status") or ""),
        chatwoot_updated_at=_epoch(payload.get("updated_at")),
        assignment_done=True,
    )
    _owner_apply(handoff, payload)
    handoff.save()
    lead.chatwoot_conversation_id = display_id
    if lead.status != Lead.Status.HANDED_OFF:
        lead.status = Lead.Status.HANDED_OFF
    lead.save()
    _event(handoff, "returned", f"O lead voltou: conversa {display_id} no Chatwoot.")
    return f"lead de volta na conversa {display_id}"


def contact_updated(payload: dict) -> str:
    """Name and e-mail follow Chatwoot; the phone is the lead's identity and never changes silently."""
    lead = Lead.objects.select_for_update().filter(chatwoot_contact_id=payload.get("id")).first()
    if lead is None:
        raise EventIgnored("contato desconhecido")
    changed = []
    name, email = str(payload.get("name") or "").strip(), str(payload.get("email") or "").strip()
    if name and name != lead.name:
        lead.name = name[:255]
        changed.append("nome")
    if email and email.lower() != lead.email.lower():
        lead.email = email[:254]
        changed.append("e-mail")
    if changed:
        lead.save(update_fields=["name", "email", "updated_at"])
    phone_note = _phone_difference(lead, str(payload.get("phone_number") or ""))
    return (
        "; ".join(filter(None, [f"{' e '.join(changed)} atualizado(s)" if changed else "", phone_note]))
        or "sem mudança"
    )


def conversation_reconciled(payload: dict) -> str:
    """A polled conversation (GET /conversations/{id}) goes through the same rules as a webhook."""
    return conversation_changed(payload)


HANDLERS = {
    "conversation_status_changed": conversation_changed,
    "conversation_updated": conversation_changed,
    "message_created": message_created,
    "conversation_created": conversation_created,
    "contact_updated": contact_updated,
}


def outcome_for(labels: list[str]) -> str:
    """Lost beats won; neither gives the default (HANDOFF_DEFAULT_OUTCOME, "convertido" as in the seed)."""
    present = {label.lower() for label in labels}
    if present & {label.lower() for label in settings.HANDOFF_LOST_LABELS}:
        return Lead.Status.PERDIDO
    if present & {label.lower() for label in settings.HANDOFF_WON_LABELS}:
        return Lead.Status.CONVERTIDO
    return settings.HANDOFF_DEFAULT_OUTCOME


def _status_apply(handoff: Handoff, payload: dict) -> str:
    status = str(payload.get("status") or "")
    lead = Lead.objects.select_for_update().get(pk=handoff.lead_id)
    latest = lead.handoffs.exclude(state=Handoff.State.CANCELLED).order_by("-created_at").first()
    if latest is None or latest.pk != handoff.pk:
        return "conversa de uma transferência anterior: só registrada"
    if handoff.state != Handoff.State.DONE:
        # The lead is not handed off yet: steps.finish() applies the status recorded here (chatwoot_status, and
        # the outcome it implies), so a resolution in the meantime is not lost behind the newer chatwoot_updated_at.
        handoff.outcome = outcome_for(list(payload.get("labels") or [])) if status == "resolved" else ""
        return "resolvida durante a transferência: aplicada ao concluir" if status == "resolved" else ""
    if status == "resolved" and lead.status == Lead.Status.HANDED_OFF:
        resolution_apply(handoff, lead, outcome_for(list(payload.get("labels") or [])))
        return f"resolvida → {lead.status}"
    if status in ("open", "pending", "snoozed") and lead.is_closed:
        lead.status = Lead.Status.HANDED_OFF
        lead.save(update_fields=["status", "updated_at"])
        handoff.resolved_at, handoff.outcome = None, ""
        _event(handoff, "reopened", "Reaberta no Chatwoot: de volta ao atendimento.")
        return "reaberta"
    return ""


def resolution_apply(handoff: Handoff, lead: Lead, outcome: str) -> None:
    """The conversation ended in Chatwoot: the lead takes the outcome and the bot conversation closes."""
    lead.status = outcome
    lead.save(update_fields=["status", "updated_at"])
    BotConversation.objects.filter(lead=lead).exclude(status=BotConversation.Status.CLOSED).update(
        status=BotConversation.Status.CLOSED
    )
    handoff.resolved_at, handoff.outcome = timezone.now(), outcome
    _event(handoff, "resolved", f"Resolvida no Chatwoot: {lead.get_status_display()}.")


def _owner_apply(handoff: Handoff, payload: dict) -> str:
    if handoff.state != Handoff.State.DONE:
        # The assignment step reads a set assignee or team as its own work done; until the handoff is done, the
        # owner is Nexa's to set. Chatwoot's later conversation events carry the owner again.
        return ""
    meta = payload.get("meta") or {}
    assignee = meta.get("assignee") or {}
    changes = []
    if meta.get("assignee_type") in (None, "User") and assignee.get("id") and assignee["id"] != handoff.assignee_id:
        handoff.assignee_id, handoff.assignee_name = assignee["id"], str(assignee.get("name") or "")
        changes.append(f"agente: {handoff.assignee_name}")
    team = meta.get("team") or {}
    if team.get("id") and team["id"] != handoff.team_id:
        handoff.team_id, handoff.team_name = team["id"], str(team.get("name") or "")
        changes.append(f"time: {handoff.team_name}")
    if changes:
        _event(handoff, "owner", f"No Chatwoot, {', '.join(changes)}.", agent_id=handoff.assignee_id)
    return "; ".join(changes)


def _first_reply_from(handoff: Handoff, payload: dict) -> str:
    """A conversation's first_reply_created_at (ISO in webhooks, epoch in the API) also tells the first reply."""
    raw = payload.get("first_reply_created_at")
    when = datetime.fromtimestamp(raw, tz=UTC) if isinstance(raw, int | float) and raw else None
    when = when or (parse_datetime(raw) if isinstance(raw, str) else None)
    return _first_reply(handoff, when, handoff.assignee_name) if when else ""


def _first_reply(handoff: Handoff, when, agent_name: str) -> str:
    # The API gives whole seconds (C.1): a reply in the handoff's own second must still count.
    if handoff.first_reply_at is not None or when < handoff.created_at - timedelta(seconds=1):
        return ""
    handoff.first_reply_at, handoff.first_reply_agent_name = when, agent_name
    minutes = (when - (handoff.finished_at or handoff.created_at)).total_seconds() / 60
    _event(
        handoff,
        "first_reply",
        f"Primeira resposta humana ({agent_name or 'agente'}) {max(minutes, 0):.1f} min após a transferência.",
    )
    return "primeira resposta registrada"


def _message_sender(payload: dict) -> str | None:
    kind = payload.get("message_type")
    if kind == "incoming":
        return Message.Sender.LEAD
    sender_type = (payload.get("sender") or {}).get("type")
    if sender_type == "user":
        return Message.Sender.AGENT
    if sender_type in ("agent_bot", "captain_assistant"):
        return Message.Sender.BOT
    return None


def _attachments_text(payload: dict) -> str:
    kinds = [str(item.get("file_type") or "arquivo") for item in payload.get("attachments") or []]
    return f"[anexo: {', '.join(kinds)}]" if kinds else "[mensagem sem texto]"


def _phone_difference(lead: Lead, chatwoot_phone: str) -> str:
    if not chatwoot_phone:
        return ""
    try:
        identity = phone_parse(chatwoot_phone).identity
    except InvalidPhone:
        identity = chatwoot_phone
    if identity == lead.phone_identity:
        return ""
    latest = lead.handoffs.order_by("-created_at").first()
    if latest:
        _event(
            latest, "phone_mismatch", f"Telefone mudou no Chatwoot para {chatwoot_phone}; o do lead não foi alterado."
        )
    return "telefone diferente no Chatwoot: não aplicado"


def _handoff_locked(display_id: int | None) -> Handoff:
    handoff = (
        Handoff.objects.select_for_update()
        .select_related("lead")
        .filter(conversation_id=display_id, state__in=(Handoff.State.IN_PROGRESS, Handoff.State.DONE))
        .order_by("-created_at")
        .first()
        if display_id
        else None
    )
    if handoff is None:
        raise EventIgnored("conversa desconhecida")
    return handoff


def _event(handoff: Handoff, kind: str, message: str, **data) -> None:
    HandoffEvent.objects.create(handoff=handoff, kind=kind, message=message, data=data)


def _epoch(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
