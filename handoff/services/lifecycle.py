"""The outbox lifecycle: create in the caller's transaction, enqueue after commit, retry, cancel, sweep."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from handoff.models import Handoff, HandoffEvent
from handoff.services.dispatcher import dispatcher_ensure
from handoff.services.inboxes import handoff_inbox_choose
from leads.models import Lead
from outbound.delivery import deliveries_due
from outbound.services import handoff_ended_emit, handoff_queued_emit

Kind = HandoffEvent.Kind

logger = logging.getLogger(__name__)


class HandoffRefused(Exception):
    """The operation does not apply to this handoff or lead; the message says why, for the admin."""


def handoff_create(
    *,
    lead: Lead,
    trigger: str,
    user=None,
    reason: str = "",
    inbox_id: int | None = None,
    returned: tuple[int, int] | None = None,
) -> Handoff:
    """The lead's active handoff, or a new one queued in the caller's transaction (the outbox).

    It goes to `inbox_id`, else to the lead's inbox, a routing rule's, or the default (handoff_inbox_choose).
    `returned` is (contact id, conversation id) of the conversation a returning lead opened: the handoff takes it.
    """
    with transaction.atomic(savepoint=False):  # an error undoes the caller's transaction: nothing to keep apart
        latest = Handoff.objects.latest_for(lead)
        if latest and latest.is_active:  # a lead's active handoff is its newest (a retry needs there be none newer)
            return latest
        origin = {
            "trigger": trigger,
            "sample": _in_sample(trigger, latest, lead),
            "triggered_by": user if user and user.is_authenticated else None,
            "score": lead.qualification_score,
            "reason": reason or _reason(trigger, lead),
            "inbox_id": handoff_inbox_choose(lead, inbox_id),
        }
        if returned:
            origin["contact_id"], origin["returned_conversation_id"] = returned
        if latest and latest.state in (Handoff.State.FAILED, Handoff.State.CANCELLED) and _resumable(latest, origin):
            # Its checkpoints and markers are what keep Chatwoot free of a second note or conversation.
            handoff = _resume(latest, f"Retomada ({site_label(Handoff.Trigger, trigger)}){_by(user)}.", origin=origin)
        else:
            try:
                with transaction.atomic():
                    handoff = Handoff.objects.create(lead=lead, **origin)
            except IntegrityError:
                # A concurrent transaction queued one first (the one-active-per-lead constraint).
                handoff = lead.handoffs.active().get()
            else:
                handoff_event(handoff, Kind.QUEUED, f"Na fila ({site_label(Handoff.Trigger, handoff.trigger)}).")
                handoff_queued_emit(handoff)
                transaction.on_commit(handoff_enqueue)
    return handoff


def handoff_request(*, lead: Lead) -> tuple[Handoff | None, str]:
    """What Atlas's trigger gets: (handoff, reason), queuing one when the lead qualifies and has none. A lead below
    the threshold with a handoff under way (the calibration sample, an admin's) is "queued" too: the bot stops."""
    latest = Handoff.objects.latest_for(lead)
    if latest and latest.is_active:
        return latest, "queued"
    if lead.qualification_score is None or lead.qualification_score < settings.HANDOFF_SCORE_THRESHOLD:
        return None, "below_threshold"
    if lead.status == Lead.Status.HANDED_OFF:
        return latest, "already_handed_off"
    return handoff_create(lead=lead, trigger=Handoff.Trigger.API), "queued"


def handoff_sample(*, lead: Lead) -> Handoff | None:
    """A lead drawn into the calibration sample is handed off once: not if it ever had a handoff."""
    if lead.handoffs.exists():
        return None
    return handoff_create(lead=lead, trigger=Handoff.Trigger.SAMPLE)


def handoff_trigger_admin(*, lead: Lead, user, inbox_id: int | None = None) -> Handoff:
    """ "Hand off now": bypasses the threshold, records who asked; into `inbox_id` when the admin chose one."""
    if lead.status == Lead.Status.HANDED_OFF and not lead.handoffs.active().exists():
        raise HandoffRefused(f"{lead} já está com um agente no Chatwoot.")
    return handoff_create(
        lead=lead, trigger=Handoff.Trigger.ADMIN, user=user, reason="Transferência manual", inbox_id=inbox_id
    )


def handoff_retry(*, handoff: Handoff, user) -> Handoff:
    """Requeue a failed handoff; its checkpoints are kept, so it resumes and repeats nothing."""
    if handoff.state != Handoff.State.FAILED:
        state = site_label(Handoff.State, handoff.state)
        raise HandoffRefused(f"Só uma transferência que falhou pode ser repetida ({state}).")
    if Handoff.objects.filter(lead_id=handoff.lead_id, created_at__gt=handoff.created_at).exists():
        raise HandoffRefused("O lead já tem uma transferência mais recente; esta não pode ser repetida.")
    return _resume(handoff, f"Repetida{_by(user)}.")


def _resume(handoff: Handoff, message: str, origin: dict | None = None) -> Handoff:
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
        if handoff.is_active:
            return handoff
        if Handoff.objects.active().filter(lead_id=handoff.lead_id).exists():
            raise HandoffRefused("O lead já tem outra transferência em andamento.")
        now = timezone.now()
        start = now
        if handoff.state == Handoff.State.CANCELLED and handoff.finished_at:
            # A cancelled worker may still have one request in flight; resume only once it must have ended,
            # so its write is found (by phone, handoff_id or marker) instead of made twice.
            in_flight = settings.CHATWOOT_CONNECT_TIMEOUT + settings.CHATWOOT_READ_TIMEOUT + 5
            start = max(now, handoff.finished_at + timedelta(seconds=in_flight))
        handoff.state, handoff.attempts, handoff.next_attempt_at = Handoff.State.QUEUED, 0, start
        handoff.finished_at, handoff.last_error = None, ""
        fields = ["state", "attempts", "next_attempt_at", "finished_at", "last_error", "updated_at"]
        if origin:  # the lead may have qualified since: then it is no longer the sample's, whatever Chatwoot shows
            handoff.sample = origin["sample"]
            fields.append("sample")
        if origin and _note_unwritten(handoff):
            # Nothing of the note can be in Chatwoot yet: it may show today's history, score, reason and inbox.
            if origin["inbox_id"] != handoff.inbox_id:
                origin = {**origin, "contact_source_id": ""}  # the contact_inbox belongs to the old inbox
            for name, value in {**origin, "history_until": None}.items():
                setattr(handoff, name, value)
            fields += [name for name in origin if name != "sample"] + ["history_until"]
        handoff.save(update_fields=fields)
        handoff_event(handoff, Kind.RESUMED, message)
        handoff_queued_emit(handoff)
        if start <= now:
            transaction.on_commit(handoff_enqueue)
    return handoff


def _in_sample(trigger: str, latest: Handoff | None, lead: Lead) -> bool:
    """A handoff of the calibration sample: the draw's, and the later ones of a drawn lead (it came back, an admin
    handed it off again) until Atlas scores it at the threshold."""
    if trigger == Handoff.Trigger.SAMPLE:
        return True
    score = lead.qualification_score
    qualified = score is not None and score >= settings.HANDOFF_SCORE_THRESHOLD
    return not qualified and latest is not None and latest.sample  # Atlas's trigger (api) needs a qualified lead


def _resumable(handoff: Handoff, origin: dict) -> bool:
    """A failed or cancelled handoff is resumed, not repeated, unless it already went somewhere else: to another
    inbox (CHANNELS §5: the lead is answered from the number it wrote to) or into another conversation."""
    if _note_unwritten(handoff):
        return True
    return origin["inbox_id"] == handoff.inbox_id and not origin.get("returned_conversation_id")


def _note_unwritten(handoff: Handoff) -> bool:
    """No conversation yet and no note part sent without an answer: no note rendered from the old trigger exists.

    Once one may exist, the handoff keeps what the note was rendered from, so its markers still find it.
    """
    return handoff.conversation_id is None and handoff.note_pending_part is None and not handoff.conversation_reused


def _by(user) -> str:
    return f" por {user}" if user is not None and getattr(user, "is_authenticated", False) else ""


def handoff_cancel(*, handoff: Handoff, user) -> Handoff:
    """Stop a queued or running handoff; a running worker loses its lease at its next checkpoint."""
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
        if not handoff.is_active:
            raise HandoffRefused(f"Esta transferência já terminou ({site_label(Handoff.State, handoff.state)}).")
        handoff.state, handoff.claim_token, handoff.finished_at = Handoff.State.CANCELLED, None, timezone.now()
        handoff.save(update_fields=["state", "claim_token", "finished_at", "updated_at"])
        handoff_event(handoff, Kind.CANCELLED, f"Cancelada por {user}.")
        handoff_ended_emit(handoff, lead=handoff.lead)
    return handoff


def handoffs_sweep() -> int:
    """Start the dispatcher when a handoff is due, or its worker vanished (lease expired), or an event waits for a
    retry; returns how many handoffs are due."""
    now = timezone.now()
    _dead_letter_vanished(now)
    due = Handoff.objects.claimable(now).count()
    if due or deliveries_due(now=now, exclude=set(), limit=1):
        handoff_enqueue()
    return due


def _dead_letter_vanished(now) -> None:
    """A handoff whose worker died on every attempt (killed, out of memory) stops being retried."""
    for handoff in Handoff.objects.vanished(now):
        reason = f"O worker parou sem concluir em {handoff.attempts} tentativas (morto ou sem memória?)."
        fields = {"state": Handoff.State.FAILED, "last_error": reason, "finished_at": now, "claim_token": None}
        with transaction.atomic():  # the failure, its timeline row and its events for subscribers together
            if Handoff.objects.filter(pk=handoff.pk, state=Handoff.State.IN_PROGRESS).update(**fields):
                handoff_event(handoff, Kind.FAILED, reason)
                for name, value in fields.items():
                    setattr(handoff, name, value)
                handoff_ended_emit(handoff, lead=handoff.lead, reason=reason)


def handoff_enqueue() -> None:
    """A handoff is waiting: make sure the dispatcher runs (it finds the handoff itself; no task carries it)."""
    dispatcher_ensure()


def site_label(choices, value: str) -> str:
    """A choice's label in the site's language (LANGUAGE_CODE), as the Portuguese prose around it is: timeline
    messages are stored, and must not take the language of whoever's request (admin, API client) wrote them."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(dict(choices.choices).get(value, value))


def handoff_event(handoff: Handoff, kind: HandoffEvent.Kind, message: str, **data) -> None:
    HandoffEvent.objects.create(handoff=handoff, kind=kind, message=message, data=data)


def _reason(trigger: str, lead: Lead) -> str:
    if trigger == Handoff.Trigger.SCORE:
        return f"Nota {lead.qualification_score} atingiu o limiar {settings.HANDOFF_SCORE_THRESHOLD}"
    if trigger == Handoff.Trigger.API:
        return "Pedido do Atlas Nexa"
    if trigger == Handoff.Trigger.SAMPLE:
        threshold = settings.HANDOFF_SCORE_THRESHOLD
        return f"Amostra de calibração: nota {lead.qualification_score}, abaixo do limiar {threshold}"
    return "Transferência manual"
