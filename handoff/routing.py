"""Which agent (and team) gets a lead: ordered rules, candidate pools, sticky owners and strategies."""

import unicodedata
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q

from handoff.chatwoot import Agent, ChatwootAuthError, ChatwootClient
from handoff.models import Handoff, RoundRobinCursor, RoutingRule
from leads.models import Lead

AGENTS_CACHE_SECONDS = 60


@dataclass
class RoutingDecision:
    strategy: str
    rule: str
    inputs: dict
    rule_id: int | None = None
    candidates: list[dict] = field(default_factory=list)
    team_id: int | None = None
    agent_id: int | None = None
    agent_name: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def routing_inputs(lead: Lead) -> dict:
    area_code = lead.phone[3:5] if lead.phone.startswith("+55") else ""
    return {"score": lead.qualification_score, "interest": lead.interest, "area_code": area_code}


def rule_matches(rule: RoutingRule, inputs: dict) -> bool:
    score = inputs["score"]
    if rule.min_score is not None and (score is None or score < rule.min_score):
        return False
    if rule.max_score is not None and (score is None or score > rule.max_score):
        return False
    keywords = [_plain(word) for word in rule.interest_keywords.split(",") if word.strip()]
    if keywords and not any(word in _plain(inputs["interest"]) for word in keywords):
        return False
    codes = [code.strip() for code in rule.area_codes.split(",") if code.strip()]
    return not codes or inputs["area_code"] in codes


def rule_for(lead: Lead, *, inbox_id: int | None = None) -> RoutingRule | None:
    """The first enabled rule, by position, whose conditions the lead meets; with `inbox_id`, among the rules
    for any inbox or for that one (a rule's team and agents serve the inbox it names)."""
    inputs = routing_inputs(lead)
    rules = RoutingRule.objects.filter(enabled=True)
    if inbox_id is not None:
        rules = rules.filter(Q(inbox_id__isnull=True) | Q(inbox_id=inbox_id))
    return next((rule for rule in rules if rule_matches(rule, inputs)), None)


def routing_decide(
    *, lead: Lead, client: ChatwootClient, handoff: Handoff, exclude_agent_ids: tuple[int, ...] = ()
) -> RoutingDecision:
    """Pick the target for this lead and say why; without rules, the inbox's members in turn."""
    inputs = routing_inputs(lead)
    inbox_id = handoff.inbox_id or settings.CHATWOOT_INBOX_ID
    rule = rule_for(lead, inbox_id=inbox_id)
    strategy = rule.strategy if rule else RoutingRule.Strategy.ROUND_ROBIN
    decision = RoutingDecision(
        strategy=strategy, rule=rule.name if rule else "padrão (membros da caixa de entrada)", inputs=inputs
    )
    decision.team_id = rule.team_id if rule else None
    decision.rule_id = rule.pk if rule else None
    if strategy == RoutingRule.Strategy.CHATWOOT:
        decision.reason = "A atribuição fica com o Chatwoot."
        return decision
    pool = [agent for agent in _candidates(client, rule, inbox_id) if agent.id not in exclude_agent_ids]
    decision.candidates = [{"id": a.id, "name": a.name, "availability": a.availability_status} for a in pool]
    if rule and rule.online_only:
        online = [agent for agent in pool if agent.availability_status == "online"]
        if online:
            pool = online
        else:
            decision.reason = "Ninguém online; considerados todos os candidatos. "
    if not pool:
        decision.reason += "Nenhum agente candidato: a conversa fica sem agente."
        return decision
    chosen, why = _choose(lead, handoff, rule, strategy, pool)
    decision.agent_id, decision.agent_name = chosen.id, chosen.name
    decision.reason += why
    return decision


def _choose(lead, handoff, rule, strategy, pool: list[Agent]) -> tuple[Agent, str]:
    by_id = {agent.id: agent for agent in pool}
    previous = (
        (Handoff.objects.filter(lead=lead, assignee_id__isnull=False).exclude(pk=handoff.pk).order_by("-created_at"))
        .values_list("assignee_id", flat=True)
        .first()
    )
    if previous in by_id:
        return by_id[previous], "Lead que voltou: o mesmo agente de antes."
    pool_key = f"rule:{rule.pk}" if rule else f"inbox:{handoff.inbox_id or settings.CHATWOOT_INBOX_ID}"
    if strategy == RoutingRule.Strategy.FIXED:
        return pool[0], "Agente fixo da regra."
    if strategy == RoutingRule.Strategy.LEAST_LOADED:
        loads = _open_loads([agent.id for agent in pool])
        lightest = min(loads.values())
        tied = [agent for agent in pool if loads[agent.id] == lightest]
        chosen = by_id[_next_turn(pool_key, [agent.id for agent in tied])]
        return chosen, f"Menos ocupado ({lightest} conversas abertas)."
    return by_id[_next_turn(pool_key, [agent.id for agent in pool])], "Rodízio: a vez deste agente."


def _next_turn(pool_key: str, agent_ids: list[int]) -> int:
    """The agent after the last one served; the cursor's row lock makes concurrent workers take turns."""
    with transaction.atomic():
        cursor = RoundRobinCursor.objects.select_for_update().filter(pool=pool_key).first()
        if cursor is None:  # the pool's first turn
            RoundRobinCursor.objects.get_or_create(pool=pool_key)
            cursor = RoundRobinCursor.objects.select_for_update().get(pool=pool_key)
        ordered = sorted(agent_ids)
        last = cursor.last_agent_id
        chosen = next((agent_id for agent_id in ordered if last is None or agent_id > last), ordered[0])
        cursor.last_agent_id = chosen
        cursor.save(update_fields=["last_agent_id", "updated_at"])
    return chosen


def _open_loads(agent_ids: list[int]) -> dict[int, int]:
    """Open handed-off conversations per agent, from Nexa's own records."""
    rows = (
        Handoff.objects.filter(state=Handoff.State.DONE, assignee_id__in=agent_ids, lead__status=Lead.Status.HANDED_OFF)
        .values("assignee_id")
        .annotate(load=Count("id"))
    )
    loads = dict.fromkeys(agent_ids, 0)
    loads.update({row["assignee_id"]: row["load"] for row in rows})
    return loads


def _candidates(client: ChatwootClient, rule: RoutingRule | None, inbox_id: int) -> list[Agent]:
    if rule and rule.agent_ids.strip():
        wanted = [int(part) for part in rule.agent_ids.split(",") if part.strip().isdigit()]
        known = {agent.id: agent for agent in _cached(client, "agents", client.agents)}
        return [known[agent_id] for agent_id in wanted if agent_id in known]
    if rule and rule.team_id:
        return _cached(client, f"team:{rule.team_id}", lambda: client.team_members(rule.team_id))
    return _cached(client, f"inbox:{inbox_id}", lambda: inbox_members(client, inbox_id))


def inbox_members(client: ChatwootClient, inbox_id: int) -> list[Agent]:
    try:
        return client.inbox_members(inbox_id)
    except ChatwootAuthError:
        # E: listing inbox members is for administrators; assignable_agents also adds every administrator.
        return client.assignable_agents(inbox_id)


def _cached(client: ChatwootClient, name: str, fetch) -> list[Agent]:
    """Agent lists change rarely; a minute of staleness saves a call per handoff."""
    key = f"nexa:chatwoot:{client.settings.account_id}:{name}"
    rows = cache.get(key)
    if rows is None:
        rows = [asdict(agent) for agent in fetch()]
        cache.set(key, rows, AGENTS_CACHE_SECONDS)
    return [Agent(**row) for row in rows]


def _plain(text: str) -> str:
    """Lower case without accents, so "Usina" matches "usína" and "Energia Solar" matches "energia solar"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().strip()
