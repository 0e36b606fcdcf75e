"""e. Routing decided once, then the team and the agent assigned (C.4, E)."""

from handoff.chatwoot import ChatwootClient
from handoff.models import HandoffEvent
from handoff.routing import routing_decide
from handoff.services.lifecycle import handoff_event
from handoff.services.steps.common import HandoffImpossible

Kind = HandoffEvent.Kind


def assignment(run, client: ChatwootClient) -> None:
    """e. Decide once (the decision is saved before acting), then assign the team and the agent."""
    handoff = run.handoff
    if handoff.assignment_done:
        return
    if not handoff.routing:
        run.checkpoint(routing=routing_for(run, client))
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
    run.checkpoint(assignment_done=True, later=True)  # a repeat finds the team and agent saved: no call
    handoff_event(handoff, Kind.ASSIGNED, decision.get("reason") or "Atribuição concluída.", **decision)


def routing_for(run, client: ChatwootClient) -> dict:
    """The routing decision; a reused conversation that already has an agent keeps it."""
    handoff = run.handoff
    if handoff.conversation_reused:
        # The conversation as the reuse just read it (the contact's list carries its assignee), else read again.
        current = run.reused or client.conversation_get(handoff.conversation_id)
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
