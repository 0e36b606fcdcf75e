"""The Chatwoot side over time: speed-to-lead escalation, and reconciliation of conversations gone quiet."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from handoff import events, throttle
from handoff.business_hours import business_seconds
from handoff.chatwoot import ChatwootConfigurationError, ChatwootError, ChatwootNotFound
from handoff.models import Handoff, RoutingRule
from handoff.notes import liquid_safe
from handoff.routing import routing_decide
from handoff.services.lifecycle import handoff_event
from handoff.services.runner import call_audit, chatwoot_client
from leads.models import Lead

logger = logging.getLogger(__name__)


def handoffs_sla_check(now=None) -> int:
    """Escalate every handed-off conversation whose agent has not replied in time; returns how many."""
    now = now or timezone.now()
    waiting = Handoff.objects.filter(
        state=Handoff.State.DONE,
        first_reply_at__isnull=True,
        resolved_at__isnull=True,
        lead__status=Lead.Status.HANDED_OFF,
        escalations__lt=settings.HANDOFF_SLA_MAX_ESCALATIONS,
        conversation_id__isnull=False,
    ).select_related("lead")
    escalated = 0
    for handoff in waiting:
        target = sla_target_minutes(handoff)
        started = handoff.sla_started_at or handoff.finished_at
        if business_seconds(started, now, settings.HANDOFF_BUSINESS_HOURS) >= target * 60:
            escalated += handoff_escalate(handoff=handoff, now=now, target=target)
    return escalated


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
        pk=handoff.pk, escalations=handoff.escalations, first_reply_at__isnull=True
    ).update(escalations=F("escalations") + 1, sla_started_at=now)
    if not claimed:
        return 0
    previous = [handoff.assignee_id, *handoff.routing.get("escalated_from", [])]
    try:
        client = chatwoot_client(
            on_call=lambda record: call_audit(record, handoff_id=handoff.pk, step="escalation"),
            before_call=throttle.throttle_before_call,
        )
        decision = routing_decide(
            lead=handoff.lead, client=client, handoff=handoff, exclude_agent_ids=tuple(filter(None, previous))
        )
        if not decision.agent_id:
            raise ChatwootConfigurationError("nenhum outro agente disponível")
        agent = client.conversation_assign_agent(handoff.conversation_id, decision.agent_id)
        if agent is None:
            raise ChatwootConfigurationError(f"o Chatwoot não aceitou o agente {decision.agent_id}")
        note = (
            f"**Sem primeira resposta em {target} min.** Conversa reatribuída de "
            f"{handoff.assignee_name or 'ninguém'} para {agent.name} pelo Nexa "
            f"(escalonamento {handoff.escalations + 1})."
        )
        client.message_create(handoff.conversation_id, content=liquid_safe(note), private=True)
    except (ChatwootError, ChatwootConfigurationError, throttle.ChatwootDeferred) as err:
        # Give the claim back: the next run of the job tries again.
        Handoff.objects.filter(pk=handoff.pk).update(
            escalations=F("escalations") - 1, sla_started_at=handoff.sla_started_at
        )
        logger.warning("handoff %s: escalation failed: %s", handoff.pk, err)
        return 0
    routing = {**handoff.routing, "escalated_from": [p for p in previous if p]}
    Handoff.objects.filter(pk=handoff.pk).update(assignee_id=agent.id, assignee_name=agent.name, routing=routing)
    handoff_event(
        handoff,
        "escalated",
        f"Sem resposta em {target} min: de {handoff.assignee_name or '—'} para {agent.name}.",
        from_agent=handoff.assignee_id,
        to_agent=agent.id,
    )
    return 1


def handoffs_reconcile(now=None) -> int:
    """Poll conversations Nexa has heard nothing about for a while (webhooks are never re-sent, F.5)."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(minutes=settings.HANDOFF_RECONCILE_AFTER_MINUTES)
    quiet = (
        Handoff.objects.filter(
            state=Handoff.State.DONE, lead__status=Lead.Status.HANDED_OFF, conversation_id__isnull=False
        )
        .filter(Q(chatwoot_heard_at__lt=cutoff) | Q(chatwoot_heard_at__isnull=True, finished_at__lt=cutoff))
        .order_by(F("chatwoot_heard_at").asc(nulls_first=True))[: settings.HANDOFF_RECONCILE_BATCH]
    )
    try:
        client = chatwoot_client(before_call=throttle.throttle_before_call)
    except ChatwootConfigurationError:
        return 0
    polled = 0
    for handoff in quiet:
        client.on_call = lambda record, pk=handoff.pk: call_audit(record, handoff_id=pk, step="reconcile")
        try:
            payload = client.conversation_payload(handoff.conversation_id)
        except throttle.ChatwootDeferred:
            break  # within the same request budget as handoffs: the rest waits for the next run
        except ChatwootNotFound:
            Handoff.objects.filter(pk=handoff.pk).update(chatwoot_heard_at=now)
            handoff_event(handoff, "reconcile", "A conversa não existe mais no Chatwoot.")
            continue
        except ChatwootError as err:
            logger.warning("handoff %s: reconciliation failed: %s", handoff.pk, err)
            continue
        with transaction.atomic():
            result = events.conversation_reconciled(payload)
        if result not in ("sem mudança", "estado antigo ou repetido: ignorado"):
            handoff_event(handoff, "reconcile", f"Conferida no Chatwoot: {result}.")
        polled += 1
    return polled
