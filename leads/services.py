"""Writes to leads, their conversations and messages; every function is one transaction."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from leads import selectors
from leads.calibration import calibration_drawn
from leads.models import BotConversation, Lead, Message
from leads.phones import Phone
from leads.signals import lead_qualified, lead_sampled

LEAD_FIELDS = ("name", "email", "interest", "qualification_score", "external_id", "chatwoot_inbox_id")


class LeadConflict(Exception):
    """The request names a lead that another lead already is (phone or Atlas id)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field_name = field_name
        self.message = message


@dataclass(frozen=True)
class NewMessage:
    sender: str
    content: str
    created_at: datetime | None = None
    external_id: str | None = None
    agent_name: str = ""
    handoff_id: object = None  # the handoff whose Chatwoot conversation it came from


@dataclass
class MessagesAdded:
    created: list[Message] = field(default_factory=list)
    ignored: int = 0


def lead_upsert(*, phone: Phone, data: dict, trigger: str = "score") -> tuple[Lead, bool]:
    """Create the lead for this phone (or its twin), or update it with the given fields; (lead, created)."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                lead = Lead.objects.select_for_update().filter(phone_identity=phone.identity).first()
                created = lead is None
                if created:
                    lead = Lead(phone=phone.e164)
                was = lead.status
                scored = _lead_apply(lead, data)
                lead.save()
                _qualified_notify(lead, was, trigger=trigger, scored=scored)
                return lead, created
        except IntegrityError:
            # Another request created the same lead between our read and our insert: update it instead.
            if attempt:
                raise
    raise AssertionError("unreachable")


def lead_update(*, lead: Lead, data: dict, phone: Phone | None = None) -> Lead:
    """Change a lead's fields; a new phone must not be another lead's (or its twin's)."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if phone is not None:
            if phone.identity != lead.phone_identity and Lead.objects.filter(phone_identity=phone.identity).exists():
                raise LeadConflict("phone", "Outro lead já tem este telefone (ou o mesmo número com/sem o 9).")
            lead.phone = phone.e164  # the twin spelling too: it corrects a legacy 8-digit number
        was = lead.status
        scored = _lead_apply(lead, data)
        try:
            with transaction.atomic():
                lead.save()
        except IntegrityError as err:
            raise LeadConflict("phone", "Outro lead já tem este telefone.") from err
        _qualified_notify(lead, was, trigger="score", scored=scored)
        return lead


def lead_status_for_score(*, status: str, score: int | None) -> str:
    """A lead not yet handed off is `qualificado` while its score reaches the threshold, else `novo`."""
    if status not in (Lead.Status.NOVO, Lead.Status.QUALIFICADO):
        return status
    qualified = score is not None and score >= settings.HANDOFF_SCORE_THRESHOLD
    return Lead.Status.QUALIFICADO if qualified else Lead.Status.NOVO


def lead_admin_save(*, lead: Lead, changed_fields: list[str], user=None) -> Lead:
    """Save an admin edit; a new score moves the status as an API update would, unless the status was set too."""
    with transaction.atomic():
        was = Lead.objects.filter(pk=lead.pk).values_list("status", flat=True).first() or Lead.Status.NOVO
        if "qualification_score" in changed_fields and "status" not in changed_fields:
            lead.status = _status_after_score(lead, changed=True)  # the form lists only fields that changed
        lead.save()
        scored = "qualification_score" in changed_fields
        _qualified_notify(lead, was, trigger="admin", user=user, scored=scored)
    return lead


def messages_add(*, lead: Lead, messages: list[NewMessage]) -> MessagesAdded:
    """Append messages to the lead's open bot conversation; a message whose external id is known is ignored."""
    with transaction.atomic(savepoint=False):  # an error undoes the caller's transaction: nothing to keep apart
        conversation, _ = _transcript_lock(lead)
        return _messages_insert(conversation, messages)


def history_add(*, lead: Lead, history: list[NewMessage]) -> MessagesAdded:
    """Add a bot-history snapshot: messages the open conversation already holds are not added again.

    Atlas sends the whole history with every trigger and text histories carry no ids, so each
    (sender, content) already stored is matched once against the snapshot, in order.
    """
    with transaction.atomic(savepoint=False):  # an error undoes the caller's transaction: nothing to keep apart
        conversation, started = _transcript_lock(lead)
        stored = Counter() if started else Counter(conversation.messages.values_list("sender", "content"))
        fresh = []
        for new in history:
            if stored[(new.sender, new.content)] > 0:
                stored[(new.sender, new.content)] -= 1
            else:
                fresh.append(new)
        result = _messages_insert(conversation, fresh)
        result.ignored += len(history) - len(fresh)
        return result


def _lead_apply(lead: Lead, data: dict) -> bool:
    """Set the given fields; whether the score changed."""
    external_id = data.get("external_id")
    if external_id and external_id != lead.external_id:
        if lead.external_id:
            raise LeadConflict("external_id", "Este lead já tem outro id do Atlas.")
        if Lead.objects.filter(external_id=external_id).exclude(pk=lead.pk).exists():
            raise LeadConflict("external_id", "Outro lead (com outro telefone) já tem este id do Atlas.")
    previous_score = lead.qualification_score
    for name in LEAD_FIELDS:
        if name in data and not (name == "external_id" and not data[name]):
            setattr(lead, name, data[name])
    changed = lead.qualification_score != previous_score
    if "qualification_score" in data:
        lead.status = _status_after_score(lead, changed=changed)
    return changed


def _status_after_score(lead: Lead, *, changed: bool) -> str:
    """A score qualifies a lead; on a closed lead only a *new* qualifying score is a re-qualification (a new handoff).

    A replayed upsert repeats the score it already had and must not reopen the lead; Atlas asks for a new handoff
    of a closed lead explicitly with POST /api/v1/handoffs/ (and an agent with the admin action).
    """
    score = lead.qualification_score
    if changed and lead.is_closed and score is not None and score >= settings.HANDOFF_SCORE_THRESHOLD:
        return Lead.Status.QUALIFICADO
    return lead_status_for_score(status=lead.status, score=score)


def _qualified_notify(lead: Lead, was: str, *, trigger: str, scored: bool, user=None) -> None:
    """A lead that became qualified is handed off; one just given a score below the threshold may be drawn into the
    calibration sample (when scored, not when edited later: the sample is of leads as Atlas scores them; the handoff
    app hands it off only if it never was)."""
    if lead.status == Lead.Status.QUALIFICADO and was != Lead.Status.QUALIFICADO:
        lead_qualified.send(sender=Lead, lead=lead, trigger=trigger, user=user)
    elif scored and lead.status == Lead.Status.NOVO and calibration_drawn(lead):
        lead_sampled.send(sender=Lead, lead=lead)


def _transcript_lock(lead: Lead) -> tuple[BotConversation, bool]:
    """Lock the lead row, so writers of one transcript take turns; its open conversation, and whether it was just
    started (then it holds no message yet)."""
    Lead.objects.select_for_update().filter(pk=lead.pk).first()
    conversation = selectors.conversation_open(lead=lead)
    if conversation:
        return conversation, False
    return BotConversation.objects.create(lead=lead), True


def _messages_insert(conversation: BotConversation, messages: list[NewMessage]) -> MessagesAdded:
    # Known across all the lead's conversations; the lead's row lock makes this check-then-insert safe.
    ids = [m.external_id for m in messages if m.external_id]
    known = set(
        Message.objects.filter(conversation__lead_id=conversation.lead_id, external_id__in=ids).values_list(
            "external_id", flat=True
        )
    )
    now = timezone.now()
    result = MessagesAdded()
    for new in messages:
        if new.external_id and new.external_id in known:
            result.ignored += 1
            continue
        if new.external_id:
            known.add(new.external_id)
        result.created.append(
            Message(
                conversation=conversation,
                sender=new.sender,
                content=new.content,
                created_at=new.created_at or now,
                external_id=new.external_id,
                agent_name=new.agent_name[:255],
                handoff_id=new.handoff_id,
            )
        )
    if result.created:
        Message.objects.bulk_create(result.created)
        newest = max(m.created_at for m in result.created)
        last = conversation.last_message_at
        BotConversation.objects.filter(pk=conversation.pk).update(
            messages_count=F("messages_count") + len(result.created),
            last_message_at=newest if last is None or newest > last else last,
        )
    return result
