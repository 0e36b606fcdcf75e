"""What Chatwoot says happened to a handed-off conversation, applied to the lead and its handoff.

Webhooks (handoff.events parses them) and reconciliation come here. Each function runs inside the caller's
transaction, is idempotent (a reprocessed delivery changes nothing twice), and never moves a lead backwards:
conversation states older than the newest one applied are skipped (API-NOTES F.2: no ordering).
"""

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from handoff.chatwoot import Conversation
from handoff.models import ChatwootInbox, Handoff, HandoffEvent
from handoff.outcomes import deal_value_parse
from handoff.selectors import handoff_summary
from handoff.services.authors import Author, first_reply_time_trusted, integration_user_is
from handoff.services.lifecycle import handoff_create, handoff_event, site_label
from leads import services as lead_services
from leads.models import BotConversation, Lead, Message
from leads.phones import InvalidPhone, phone_parse
from outbound.models import EventType
from outbound.services import assigned_emit, event_emit, handoff_ended_emit

Kind = HandoffEvent.Kind

logger = logging.getLogger(__name__)

# What Chatwoot's side may change on a handoff row; the runner's checkpoints are never written from here.
SYNC_FIELDS = [
    "chatwoot_heard_at",
    "chatwoot_updated_at",
    "chatwoot_status",
    "assignee_id",
    "assignee_name",
    "team_id",
    "team_name",
    "first_reply_at",
    "first_reply_agent_name",
    "resolved_at",
    "outcome",
    "deal_value",
    "deal_value_text",
    "loss_reason",
    "updated_at",
]


class EventIgnored(Exception):
    """About something Nexa does not know, or nothing to do: stored, marked ignored, no side effects."""


@dataclass(frozen=True)
class SyncResult:
    """What applying one piece of news did: `changed` when Nexa's records say something new."""

    changed: bool
    message: str

    @classmethod
    def of(cls, changes: list[str], unchanged: str = "sem mudança") -> "SyncResult":
        done = [change for change in changes if change]
        return cls(True, "; ".join(done)) if done else cls(False, unchanged)


def conversation_state_apply(conversation: Conversation) -> SyncResult:
    """The newest state of a conversation (webhook or poll): owner, status (resolved, reopened), first reply."""
    handoff = _handoff_locked(conversation.id)
    handoff.chatwoot_heard_at = timezone.now()
    if (
        handoff.chatwoot_updated_at is not None
        and conversation.updated_at is not None
        and conversation.updated_at <= handoff.chatwoot_updated_at
    ):
        handoff.save(update_fields=["chatwoot_heard_at"])
        return SyncResult(False, "estado antigo ou repetido: ignorado")
    changes = [
        _deal_apply(handoff, conversation),  # first: a resolution's events carry the deal
        _owner_apply(handoff, conversation),
        _status_apply(handoff, conversation),
        _first_reply_from(handoff, conversation),
    ]
    if conversation.updated_at is not None:
        handoff.chatwoot_updated_at = conversation.updated_at
    handoff.chatwoot_status = conversation.status or handoff.chatwoot_status
    handoff.save(update_fields=SYNC_FIELDS)
    return SyncResult.of(changes)


def conversation_message_mirror(
    *, display_id: int | None, message: lead_services.NewMessage, author: Author | None = None
) -> SyncResult:
    """Mirror a public message into the lead's transcript; an agent's first one is the first human reply.

    A user's message that is the bot's or the company phone's (an integration user's) is the bot's.
    """
    handoff = _handoff_locked(display_id)
    author = author or Author()
    if message.sender == Message.Sender.AGENT and integration_user_is(author):
        message = dataclasses.replace(message, sender=Message.Sender.BOT)
    agent_name = author.name if message.sender == Message.Sender.AGENT else ""
    message = dataclasses.replace(message, agent_name=agent_name, handoff_id=handoff.pk)
    added = lead_services.messages_add(lead=handoff.lead, messages=[message])
    handoff.chatwoot_heard_at = timezone.now()
    human = message.sender == Message.Sender.AGENT
    if human and added.created:
        _agent_message_emit(handoff, added.created[0])
    first = _first_reply(handoff, message.created_at, author.name) if human else ""
    handoff.save(update_fields=SYNC_FIELDS)
    return SyncResult(
        bool(added.created or first),
        "; ".join(filter(None, ["mensagem espelhada" if added.created else "mensagem já conhecida", first])),
    )


def _agent_message_emit(handoff: Handoff, message: Message) -> None:
    """What a relay to WhatsApp needs (a plain API inbox sends nothing itself): the text, the lead's phone, and the
    inbox and Evolution instance (the number the lead wrote to) to send it from."""

    def inbox_of() -> dict:  # read only for a subscriber
        inbox = ChatwootInbox.objects.filter(pk=handoff.inbox_id).first()
        return {
            "id": handoff.inbox_id,
            "kind": inbox.kind if inbox else None,
            "instance": inbox.instance if inbox else "",
            "phone_number": inbox.phone_number if inbox else "",
        }

    event_emit(
        EventType.AGENT_SENT,
        lead=handoff.lead,
        handoff=handoff_summary(handoff),
        message={
            "id": message.pk,
            "content": message.content,
            "created_at": message.created_at,
            "agent_name": message.agent_name,
            "chatwoot_message_id": message.chatwoot_message_id,
        },
        inbox=inbox_of,
    )


NEXAS_OWN = "conversa criada pelo próprio Nexa"


def conversation_is_nexas(custom_attributes: dict) -> bool:
    """Nexa created the conversation: its `handoff_id` attribute names one of Nexa's handoffs (C.1)."""
    handoff_id = custom_attributes.get("handoff_id")
    return bool(handoff_id) and Handoff.objects.filter(pk=_uuid_or_none(handoff_id)).exists()


def conversation_returned(*, conversation: Conversation, contact_id: int | None) -> SyncResult:
    """A new conversation of a contact Nexa knows: the lead came back (it wrote again and Evolution, or Chatwoot's
    WhatsApp inbox, opened one). Nexa's own conversations are no news.

    HANDOFF_RETURNING_POLICY "handoff": a handoff into that conversation's inbox, which reuses the conversation,
    writes a note of what happened since and goes back to the lead's agent when available (routing's sticky owner);
    "bot": Atlas answers it until it qualifies the lead again. Either way nobody is left waiting on a silent bot.
    """
    if conversation_is_nexas(conversation.custom_attributes):
        return SyncResult(False, NEXAS_OWN)
    lead = Lead.objects.select_for_update().filter(chatwoot_contact_id=contact_id).first() if contact_id else None
    if lead is None:
        raise EventIgnored("contato desconhecido")
    if lead.handoffs.filter(conversation_id=conversation.id).exists():
        return SyncResult(False, "conversa já conhecida")
    if lead.handoffs.active().exists():
        return SyncResult(False, "transferência em andamento: ela vai reaproveitar esta conversa")
    known = ChatwootInbox.objects.filter(pk=conversation.inbox_id).first()
    if known is not None and not known.served:  # an e-mail or widget conversation of the same contact
        return SyncResult(False, "conversa numa caixa que não leva respostas ao WhatsApp: nada a fazer")
    if settings.HANDOFF_RETURNING_POLICY == "bot":
        lead.chatwoot_conversation_id, lead.chatwoot_inbox_id = conversation.id, conversation.inbox_id
        lead.save(update_fields=["chatwoot_conversation_id", "chatwoot_inbox_id", "updated_at"])
        return SyncResult(True, f"lead de volta na conversa {conversation.id}: fica com o Atlas")
    handoff = handoff_create(
        lead=lead,
        trigger=Handoff.Trigger.RETURNED,
        reason=f"O lead voltou pelo WhatsApp (conversa {conversation.id})",
        inbox_id=conversation.inbox_id,
        returned=(contact_id, conversation.id),
    )
    return SyncResult(True, f"lead de volta na conversa {conversation.id}: transferência {handoff.pk} na fila")


def contact_details_apply(*, contact_id, name: str, email: str, phone: str) -> SyncResult:
    """Name and e-mail follow Chatwoot; the phone is the lead's identity and never changes silently."""
    lead = Lead.objects.select_for_update().filter(chatwoot_contact_id=contact_id).first() if contact_id else None
    if lead is None:
        raise EventIgnored("contato desconhecido")
    changed = []
    if name and name != lead.name:
        lead.name = name[:255]
        changed.append("nome")
    if email and email.lower() != lead.email.lower():
        lead.email = email[:254]
        changed.append("e-mail")
    if changed:
        lead.save(update_fields=["name", "email", "updated_at"])
    return SyncResult.of([f"{' e '.join(changed)} atualizado(s)" if changed else "", _phone_difference(lead, phone)])


def outcome_for(labels: list[str]) -> str:
    """Lost beats won; neither gives the default (HANDOFF_DEFAULT_OUTCOME, "convertido" as in the seed)."""
    present = {label.lower() for label in labels}
    if present & {label.lower() for label in settings.HANDOFF_LOST_LABELS}:
        return Lead.Status.PERDIDO
    if present & {label.lower() for label in settings.HANDOFF_WON_LABELS}:
        return Lead.Status.CONVERTIDO
    return settings.HANDOFF_DEFAULT_OUTCOME


def resolution_apply(handoff: Handoff, lead: Lead, outcome: str) -> None:
    """The conversation ended in Chatwoot: the lead takes the outcome and the bot conversation closes.

    The caller saves the handoff's resolved_at and outcome (with its other changes, in one write).
    """
    lead.status = outcome
    lead.save(update_fields=["status", "updated_at"])
    BotConversation.objects.filter(lead=lead).exclude(status=BotConversation.Status.CLOSED).update(
        status=BotConversation.Status.CLOSED
    )
    handoff.resolved_at, handoff.outcome = timezone.now(), outcome
    handoff_event(handoff, Kind.RESOLVED, f"Resolvida no Chatwoot: {site_label(Lead.Status, lead.status)}.")
    handoff_ended_emit(handoff, lead=lead, outcome=outcome)


def _status_apply(handoff: Handoff, conversation: Conversation) -> str:
    status, labels = conversation.status, conversation.labels
    lead = handoff.lead  # read and locked with the handoff (_handoff_locked)
    if handoff.superseded:
        return "conversa de uma transferência anterior: só registrada"
    if handoff.state != Handoff.State.DONE:
        # The lead is not handed off yet: the runner's finish applies the status recorded here (chatwoot_status,
        # and the outcome it implies), so a resolution meanwhile is not lost behind the newer chatwoot_updated_at.
        handoff.outcome = outcome_for(labels) if status == "resolved" else ""
        return "resolvida durante a transferência: aplicada ao concluir" if status == "resolved" else ""
    if status == "resolved" and lead.status == Lead.Status.HANDED_OFF:
        resolution_apply(handoff, lead, outcome_for(labels))
        return f"resolvida → {lead.status}"
    if status in ("open", "pending", "snoozed") and lead.is_closed:
        lead.status = Lead.Status.HANDED_OFF
        lead.save(update_fields=["status", "updated_at"])
        handoff.resolved_at, handoff.outcome = None, ""
        handoff_event(handoff, Kind.REOPENED, "Reaberta no Chatwoot: de volta ao atendimento.")
        event_emit(EventType.REOPENED, lead=lead, handoff=handoff_summary(handoff))  # the bot is silent again
        return "reaberta"
    return ""


def _deal_apply(handoff: Handoff, conversation: Conversation) -> str:
    """The deal's value and the loss reason, as the agent recorded them in the conversation's custom attributes.
    A value that cannot be read is kept as typed (the admin shows it) and counts as no value."""
    attributes = conversation.custom_attributes
    raw_value = attributes.get(settings.HANDOFF_DEAL_VALUE_ATTRIBUTE)
    reason = str(attributes.get(settings.HANDOFF_LOSS_REASON_ATTRIBUTE) or "").strip()[:255]
    typed = "" if raw_value in (None, "") else str(raw_value).strip()[:100]
    if (typed, reason) == (handoff.deal_value_text, handoff.loss_reason):
        return ""
    try:
        value = deal_value_parse(raw_value) if typed else None
    except ValueError as err:
        value = None
        logger.info("handoff %s: deal value not read (%s)", handoff.pk, err)
    handoff.deal_value, handoff.deal_value_text, handoff.loss_reason = value, typed, reason
    return f"valor {typed or '—'}; motivo {reason or '—'}"


def _owner_apply(handoff: Handoff, conversation: Conversation) -> str:
    if handoff.state != Handoff.State.DONE:
        # The assignment step reads a set assignee or team as its own work done; until the handoff is done, the
        # owner is Nexa's to set. Chatwoot's later conversation events carry the owner again.
        return ""
    changes = []
    if conversation.assignee_id and conversation.assignee_id != handoff.assignee_id:  # a user (C.4), not a bot
        handoff.assignee_id, handoff.assignee_name = conversation.assignee_id, conversation.assignee_name
        changes.append(f"agente: {handoff.assignee_name}")
    if conversation.team_id and conversation.team_id != handoff.team_id:
        handoff.team_id, handoff.team_name = conversation.team_id, conversation.team_name
        changes.append(f"time: {handoff.team_name}")
    if changes:
        handoff_event(handoff, Kind.OWNER, f"No Chatwoot, {', '.join(changes)}.", agent_id=handoff.assignee_id)
        assigned_emit(handoff, by="chatwoot")
    return "; ".join(changes)


def _first_reply_from(handoff: Handoff, conversation: Conversation) -> str:
    """A conversation's first_reply_created_at also tells the first reply, where no integration user posts."""
    when = conversation.first_reply_at
    # The first reply is recorded once: later conversation events need not ask who may have written it.
    if not when or handoff.first_reply_at is not None or not first_reply_time_trusted(handoff):
        return ""
    return _first_reply(handoff, when, handoff.assignee_name)


def _first_reply(handoff: Handoff, when: datetime, agent_name: str) -> str:
    # The API gives whole seconds (C.1): a reply in the handoff's own second must still count.
    if handoff.first_reply_at is not None or when < handoff.created_at - timedelta(seconds=1):
        return ""
    handoff.first_reply_at, handoff.first_reply_agent_name = when, agent_name
    minutes = (when - (handoff.finished_at or handoff.created_at)).total_seconds() / 60
    handoff_event(
        handoff,
        Kind.FIRST_REPLY,
        f"Primeira resposta humana ({agent_name or 'agente'}) {max(minutes, 0):.1f} min após a transferência.",
    )
    event_emit(
        EventType.HUMAN_REPLIED,
        lead=handoff.lead,
        handoff=handoff_summary(handoff),
        agent_name=agent_name,
        replied_at=when,
        minutes_after_handoff=round(max(minutes, 0), 1),
    )
    return "primeira resposta registrada"


def _phone_difference(lead: Lead, chatwoot_phone: str) -> str:
    if not chatwoot_phone:
        return ""
    try:
        identity = phone_parse(chatwoot_phone).identity
    except InvalidPhone:
        identity = chatwoot_phone
    if identity == lead.phone_identity:
        return ""
    latest = Handoff.objects.latest_for(lead)
    if latest:
        handoff_event(
            latest,
            Kind.PHONE_MISMATCH,
            f"Telefone mudou no Chatwoot para {chatwoot_phone}; o do lead não foi alterado.",
        )
    return "telefone diferente no Chatwoot: não aplicado"


def _handoff_locked(display_id: int | None) -> Handoff:
    """The handoff that owns this conversation, with its lead: both rows locked (FOR UPDATE on the join); and
    whether the lead has a newer handoff (`superseded`: the conversation is an earlier handoff's)."""
    newer = Handoff.objects.filter(lead_id=OuterRef("lead_id"), created_at__gt=OuterRef("created_at"))
    handoff = (
        Handoff.objects.select_for_update()
        .select_related("lead")
        .annotate(superseded=Exists(newer.exclude(state=Handoff.State.CANCELLED)))
        .filter(
            Q(conversation_id=display_id, state__in=(Handoff.State.IN_PROGRESS, Handoff.State.DONE))
            # A returning lead's handoff takes its new conversation over: the lead's messages there are its own.
            | Q(returned_conversation_id=display_id, conversation_id=None, state__in=Handoff.ACTIVE_STATES)
        )
        .order_by("-created_at")
        .first()
        if display_id
        else None
    )
    if handoff is None:
        raise EventIgnored("conversa desconhecida")
    return handoff


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
