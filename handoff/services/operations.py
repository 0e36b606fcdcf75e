"""What agents do from the admin in Chatwoot: reassign a handed-off lead, list whom they can pick."""

from django.core.cache import cache
from django.db import transaction

from handoff.chatwoot import Agent, Team
from handoff.models import Handoff, HandoffEvent
from handoff.services.chatwoot import chatwoot_for
from handoff.services.lifecycle import HandoffRefused, handoff_event
from outbound.services import assigned_emit

Kind = HandoffEvent.Kind

CHOICES_CACHE_SECONDS = 60


def reassign_choices() -> tuple[list[Agent], list[Team]]:
    """Chatwoot's agents and teams, fetched live and kept for a minute."""
    cached = cache.get("nexa:chatwoot:reassign_choices")
    if cached is None:
        client = chatwoot_for(step="reassign")
        cached = (client.agents(), client.teams())
        cache.set("nexa:chatwoot:reassign_choices", cached, CHOICES_CACHE_SECONDS)
    return cached


def handoff_reassign(*, handoff: Handoff, user, agent_id: int | None = None, team_id: int | None = None) -> Handoff:
    """Assign the handed-off conversation in Chatwoot to another agent and/or team, and record it."""
    if handoff.state != Handoff.State.DONE or not handoff.conversation_id:
        raise HandoffRefused(f"{handoff.lead} ainda não tem conversa no Chatwoot.")
    if not agent_id and not team_id:
        raise HandoffRefused("Escolha um agente ou um time.")
    client = chatwoot_for(step="reassign", handoff=handoff)
    changes = {}
    try:
        if team_id:
            team = client.conversation_assign_team(handoff.conversation_id, team_id)
            if team is None:
                raise HandoffRefused(f"O Chatwoot não conhece o time {team_id}.")
            changes.update(team_id=team.id, team_name=team.name)
        if agent_id:
            agent = client.conversation_assign_agent(handoff.conversation_id, agent_id)
            if agent is None:
                raise HandoffRefused(f"O Chatwoot não aceitou o agente {agent_id}.")
            changes.update(assignee_id=agent.id, assignee_name=agent.name)
    finally:
        # What Chatwoot already did is recorded even when the next call fails (a spent budget, a 429, a refusal).
        if changes:
            _reassigned_record(handoff, user, changes)
    return handoff


def _reassigned_record(handoff: Handoff, user, changes: dict) -> None:
    with transaction.atomic():  # the new owner, its timeline row and its event for subscribers together
        Handoff.objects.filter(pk=handoff.pk).update(**changes)
        names = ", ".join(value for key, value in changes.items() if key.endswith("_name") and value)
        message = f"Reatribuída por {user} para {names or 'o novo responsável'}."
        handoff_event(handoff, Kind.REASSIGNED, message, **changes)
        for name, value in changes.items():
            setattr(handoff, name, value)
        assigned_emit(handoff, by="admin")
