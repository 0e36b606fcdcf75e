"""The Chatwoot side over time: speed-to-lead escalation, and reconciliation of conversations gone quiet."""

import contextlib
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from handoff.business_hours import business_seconds
from handoff.chatwoot import Agent, ChatwootConfigurationError, ChatwootError, ChatwootNotFound
from handoff.models import Handoff, HandoffEvent, RoutingRule
from handoff.notes import escalation_marker, liquid_safe
from handoff.routing import routing_decide
from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE, chatwoot_for
from handoff.services.conversations import conversation_state_apply
from handoff.services.lifecycle import handoff_event
from handoff.throttle import ChatwootDeferred
from leads.models import Lead
from outbound.services import assigned_emit

Kind = HandoffEvent.Kind

logger = logging.getLogger(__name__)


class NoAgentAvailable(Exception):
    """Routing found no other agent for an escalation, or Chatwoot refused the one it chose."""


def handoffs_sla_check(now=None) -> int:
    """Escalate every handed-off conversation whose agent has not replied in time; returns how many."""
    now = now or timezone.now()
    escalated = 0
    try:
        escalation_notes_retry()
        for handoff, target in _sla_overdue(now):
            escalated += handoff_escalate(handoff=handoff, now=now, target=target)
    except ChatwootDeferred as err:
        # Chatwoot asked every worker to wait (or the budget is spent): the rest waits for the next run.
        logger.info("speed-to-lead check stopped: %s", err)
    return escalated


def _sla_overdue(now):
    """(handoff, target minutes) for each conversation still waiting for a first reply past its target."""
    waiting = Handoff.objects.filter(
        state=Handoff.State.DONE,
        first_reply_at__isnull=True,
        resolved_at__isnull=True,
        lead__status=Lead.Status.HANDED_OFF,
        escalations__lt=settings.HANDOFF_SLA_MAX_ESCALATIONS,
        conversation_id__isnull=False,
        escalation_note_pending="",  # the last escalation's note goes out before the next escalation
    ).select_related("lead")
    for handoff in waiting:
        target = sla_target_minutes(handoff)
        started = handoff.sla_started_at or handoff.finished_at
        if business_seconds(started, now, settings.HANDOFF_BUSINESS_HOURS) >= target * 60:
            yield handoff, target


def sla_target_minutes(handoff: Handoff) -> int:
    rule_id = (handoff.routing or {}).get("rule_id")
    rule_minutes = (
        RoutingRule.objects.filter(pk=rule_id).values_list("sla_minutes", flat=True).first() if rule_id else None
    )
    return rule_minutes or settings.HANDOFF_SLA_MINUTES


def handoff_escalate(*, handoff: Handoff, now, target: int) -> int:
    """Reassign through the same routing to the next agent, say why in a private note, record it."""
    # One conditional UPDATE claims this escalation: two runs of the job never escalate twice.
    claimed = Handoff.objects.filter(
        pk=handoff.pk, escalations=handoff.escalations, first_reply_at__isnull=True, escalation_note_pending=""
    ).update(escalations=F("escalations") + 1, sla_started_at=now)
    if not claimed:
        return 0
    try:
        client = chatwoot_for(step="escalation", handoff=handoff)
        agent = _escalation_assign(handoff, client)
    except (*CHATWOOT_UNAVAILABLE, NoAgentAvailable) as err:
        # No new agent now: give the claim back, the next run of the job tries again.
        Handoff.objects.filter(pk=handoff.pk).update(
            escalations=F("escalations") - 1, sla_started_at=handoff.sla_started_at
        )
        logger.warning("handoff %s: escalation failed: %s", handoff.pk, err)
        if isinstance(err, ChatwootDeferred):
            raise  # the whole batch waits
        return 0
    _escalation_record(handoff, agent, target)
    # A pause here leaves the note for the next run; this batch stops at the pause before its next call.
    with contextlib.suppress(ChatwootDeferred):
        _escalation_note_send(handoff, client, look_first=False)
    return 1


def escalation_notes_retry() -> None:
    """Escalation notes Chatwoot never confirmed (failed, or answer lost): posted now unless already there."""
    pending = Handoff.objects.exclude(escalation_note_pending="").filter(
        state=Handoff.State.DONE, conversation_id__isnull=False
    )
    for handoff in pending.order_by("sla_started_at")[: settings.HANDOFF_RECONCILE_BATCH]:
        try:
            client = chatwoot_for(step="escalation", handoff=handoff)
        except ChatwootConfigurationError:
            return
        _escalation_note_send(handoff, client, look_first=True)


def _escalation_assign(handoff: Handoff, client) -> Agent:
    decision = routing_decide(
        lead=handoff.lead, client=client, handoff=handoff, exclude_agent_ids=tuple(_agents_before(handoff))
    )
    if not decision.agent_id:
        raise NoAgentAvailable("nenhum outro agente disponível")
    agent = client.conversation_assign_agent(handoff.conversation_id, decision.agent_id)
    if agent is None:
        raise NoAgentAvailable(f"o Chatwoot não aceitou o agente {decision.agent_id}")
    return agent


def _agents_before(handoff: Handoff) -> list[int]:
    return [agent for agent in (handoff.assignee_id, *handoff.routing.get("escalated_from", [])) if agent]


def _escalation_record(handoff: Handoff, agent: Agent, target: int) -> None:
    """Saved as soon as Chatwoot has the new agent and never given back: a lost note must not escalate twice."""
    escalation = handoff.escalations + 1  # the claim already counted it in the database
    note = liquid_safe(
        f"**Sem primeira resposta em {target} min.** Conversa reatribuída de "
        f"{handoff.assignee_name or 'ninguém'} para {agent.name} pelo Nexa (escalonamento {escalation})."
    )
    fields = {
        "escalations": escalation,
        "assignee_id": agent.id,
        "assignee_name": agent.name,
        "routing": {**handoff.routing, "escalated_from": _agents_before(handoff)},
        "escalation_note_pending": f"{note}\n\n{escalation_marker(handoff.pk, escalation)}",
    }
    with transaction.atomic():  # the new owner, its timeline row and its event for subscribers together
        Handoff.objects.filter(pk=handoff.pk).update(**fields)
        handoff_event(
            handoff,
            Kind.ESCALATED,
            f"Sem resposta em {target} min: de {handoff.assignee_name or '—'} para {agent.name}.",
            from_agent=handoff.assignee_id,
            to_agent=agent.id,
        )
        for name, value in fields.items():
            setattr(handoff, name, value)
        assigned_emit(handoff, by="escalation")


def _escalation_note_send(handoff: Handoff, client, *, look_first: bool) -> None:
    """Post the pending note once; after an unclear answer, its marker in the latest messages means it is there."""
    marker = escalation_marker(handoff.pk, handoff.escalations)
    try:
        posted = look_first and any(marker in m.content for m in client.messages_latest(handoff.conversation_id))
        if not posted:
            client.message_create(handoff.conversation_id, content=handoff.escalation_note_pending, private=True)
    except (ChatwootError, ChatwootDeferred) as err:
        logger.warning("handoff %s: escalation note not confirmed, the next run checks again: %s", handoff.pk, err)
        if isinstance(err, ChatwootDeferred):
            raise
        return
    Handoff.objects.filter(pk=handoff.pk).update(escalation_note_pending="")
    handoff.escalation_note_pending = ""


def handoffs_reconcile(now=None) -> int:
    """Poll conversations Nexa has heard nothing about for a while (webhooks are never re-sent, F.5)."""
    now = now or timezone.now()
    polled, handoff = 0, None
    try:
        # One client (one connection) for the run; each call is audited on the handoff being polled at the time.
        client = chatwoot_for(step="reconcile", handoff=lambda: handoff)
    except ChatwootConfigurationError:
        return 0
    for handoff in _quiet(now):
        try:
            conversation = client.conversation_get(handoff.conversation_id)
        except ChatwootDeferred:
            break  # Chatwoot asked everyone to wait, or the budget is spent: the next run goes on
        except ChatwootNotFound:
            Handoff.objects.filter(pk=handoff.pk).update(chatwoot_heard_at=now)
            handoff_event(handoff, Kind.RECONCILE, "A conversa não existe mais no Chatwoot.")
            continue
        except ChatwootError as err:
            logger.warning("handoff %s: reconciliation failed: %s", handoff.pk, err)
            continue
        with transaction.atomic():
            # The same rules as a webhook about this conversation.
            result = conversation_state_apply(conversation)
        if result.changed:
            handoff_event(handoff, Kind.RECONCILE, f"Conferida no Chatwoot: {result.message}.")
        polled += 1
    return polled


def _quiet(now):
    cutoff = now - timezone.timedelta(minutes=settings.HANDOFF_RECONCILE_AFTER_MINUTES)
    return (
        Handoff.objects.filter(
            state=Handoff.State.DONE, lead__status=Lead.Status.HANDED_OFF, conversation_id__isnull=False
        )
        .filter(Q(chatwoot_heard_at__lt=cutoff) | Q(chatwoot_heard_at__isnull=True, finished_at__lt=cutoff))
        .order_by(F("chatwoot_heard_at").asc(nulls_first=True))[: settings.HANDOFF_RECONCILE_BATCH]
    )
