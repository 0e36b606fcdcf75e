"""Realistic handoffs for bulk leads: Chatwoot outcomes, first replies, escalations and the calls behind them."""

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings

from handoff.models import ChatwootCall, Handoff, HandoffEvent
from leads.bulk import SAMPLE_SHARE
from leads.calibration import calibration_drawn
from leads.models import Lead

AGENTS = (
    (11, "Ana Paula Ribeiro"),
    (12, "Bruno Teixeira"),
    (13, "Carla Menezes"),
    (14, "Daniel Fonseca"),
    (15, "Elaine Duarte"),
    (16, "Fábio Moura"),
    (17, "Giovana Prado"),
    (18, "Hugo Nascimento"),
    (19, "Íris Campos"),
    (20, "Júlio Barros"),
    (21, "Kelly Antunes"),
    (22, "Leonardo Pires"),
)
TEAMS = ((1, "Vendas SP"), (2, "Vendas RJ"), (3, "Vendas Sul"))
CALL_STEPS = ("contact", "conversation", "note", "labels", "assignment")
BATCH = 5000


def handoffs_generate(rng: random.Random, leads: list[Lead], *, calls_per_handoff: int = 0) -> int:
    """A done handoff for every lead Chatwoot has (or had), the calibration sample's among them; a few failed or queued
    ones among the qualified."""
    handoffs, events = [], []
    for lead in leads:
        handoff = _handoff(rng, lead)
        if handoff is None:
            continue
        handoffs.append(handoff)
        if handoff.escalations:
            events.append(_escalation(rng, handoff))
    Handoff.objects.bulk_create(handoffs, batch_size=BATCH)
    HandoffEvent.objects.bulk_create(events, batch_size=BATCH)
    if calls_per_handoff:
        calls = [_call(rng, handoff, step) for handoff in handoffs for step in CALL_STEPS[:calls_per_handoff]]
        ChatwootCall.objects.bulk_create(calls, batch_size=BATCH)
    return len(handoffs)


def _handoff(rng: random.Random, lead: Lead) -> Handoff | None:
    created = lead.created_at + timedelta(minutes=rng.randrange(1, 120))
    qualified = (lead.qualification_score or 0) >= settings.HANDOFF_SCORE_THRESHOLD
    if lead.status == Lead.Status.QUALIFICADO:
        roll = rng.random()
        if roll < 0.05:
            return _pending(rng, lead, created, Handoff.State.FAILED)
        return _pending(rng, lead, created, Handoff.State.QUEUED) if roll < 0.06 else None
    if calibration_drawn(lead, share=SAMPLE_SHARE):
        return _done(rng, lead, created, trigger=Handoff.Trigger.SAMPLE)
    if lead.status == Lead.Status.NOVO or not qualified:
        return None
    return _done(
        rng, lead, created, trigger=rng.choice((Handoff.Trigger.SCORE, Handoff.Trigger.SCORE, Handoff.Trigger.API))
    )


def _pending(rng: random.Random, lead: Lead, created, state: str) -> Handoff:
    failed = state == Handoff.State.FAILED
    return Handoff(
        id=uuid.uuid4(),
        lead=lead,
        state=state,
        trigger=Handoff.Trigger.SCORE,
        score=lead.qualification_score,
        attempts=rng.randrange(3, 13) if failed else 0,
        next_attempt_at=None if failed else created,
        last_error="Chatwoot respondeu 503 (Service Unavailable)" if failed else "",
        created_at=created,
        lead_created_at=lead.created_at,
        updated_at=created + timedelta(minutes=30),
        finished_at=created + timedelta(minutes=30) if failed else None,
    )


def _done(rng: random.Random, lead: Lead, created, *, trigger: str) -> Handoff:
    finished = created + timedelta(seconds=rng.randrange(2, 40))
    agent_id, agent_name = rng.choice(AGENTS)
    team_id, team_name = TEAMS[agent_id % len(TEAMS)]
    # First replies: most within minutes, a long tail of hours; some never come.
    reply_after = rng.lognormvariate(5.0, 1.2) if rng.random() < 0.9 else None
    resolved = lead.closed_at if lead.status in Lead.CLOSED_STATUSES else None
    return Handoff(
        id=uuid.uuid4(),
        lead=lead,
        state=Handoff.State.DONE,
        trigger=trigger,
        sample=trigger == Handoff.Trigger.SAMPLE,
        score=lead.qualification_score,
        attempts=1 if rng.random() < 0.92 else rng.randrange(2, 5),
        next_attempt_at=None,
        created_at=created,
        lead_created_at=lead.created_at,
        updated_at=finished,
        finished_at=finished,
        contact_id=rng.randrange(1, 10_000_000),
        conversation_id=rng.randrange(1, 10_000_000),
        assignment_done=True,
        assignee_id=agent_id,
        assignee_name=agent_name,
        team_id=team_id,
        team_name=team_name,
        chatwoot_status="resolved" if resolved else "open",
        first_reply_at=finished + timedelta(seconds=reply_after) if reply_after else None,
        first_reply_agent_name=agent_name if reply_after else "",
        resolved_at=max(resolved, finished) if resolved else None,
        outcome=lead.status if resolved else "",
        # Most won deals carry a value (solar systems: a few thousand reais to a small plant); lost ones a reason.
        deal_value=_deal_value(rng) if lead.status == Lead.Status.CONVERTIDO and rng.random() < 0.8 else None,
        loss_reason=rng.choice(LOSS_REASONS) if lead.status == Lead.Status.PERDIDO else "",
        escalations=1 if (reply_after or 1e9) > 300 and rng.random() < 0.5 else 0,
        routing={"strategy": "round_robin", "agent_id": agent_id},
    )


LOSS_REASONS = ("Preço", "Sem crédito aprovado", "Fechou com concorrente", "Desistiu", "Telhado inadequado")


def _deal_value(rng: random.Random) -> Decimal:
    return Decimal(round(rng.lognormvariate(9.8, 0.6), 2)).quantize(Decimal("0.01"))


def _escalation(rng: random.Random, handoff: Handoff) -> HandoffEvent:
    from_agent = rng.choice([agent for agent, _ in AGENTS if agent != handoff.assignee_id])
    return HandoffEvent(
        handoff=handoff,
        kind=HandoffEvent.Kind.ESCALATED,
        message=f"Sem resposta em {settings.HANDOFF_SLA_MINUTES} min.",
        data={"from_agent": from_agent, "to_agent": handoff.assignee_id},
        created_at=handoff.finished_at + timedelta(minutes=settings.HANDOFF_SLA_MINUTES),
    )


def _call(rng: random.Random, handoff: Handoff, step: str) -> ChatwootCall:
    roll = rng.random()
    status = 200 if roll < 0.95 else (503 if roll < 0.98 else 429 if roll < 0.99 else None)
    return ChatwootCall(
        handoff=handoff,
        step=step,
        method="POST",
        path=f"/api/v1/accounts/1/{step}",
        status=status,
        duration_ms=rng.randrange(40, 400),
        error_class="" if status else "ChatwootTimeout",
        created_at=handoff.created_at + timedelta(seconds=CALL_STEPS.index(step)),
    )
