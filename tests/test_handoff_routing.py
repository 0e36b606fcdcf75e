"""Routing: rules, pools, strategies, sticky owners, and fairness under concurrency.

The sandbox's agents: 1 Ana Costa (administrator, online), 2 Bruno Lima (online), 3 Carla Dias (offline);
all three are members of inbox 1; team 1 "Vendas" has Ana and Bruno.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from handoff.models import Handoff, RoundRobinCursor, RoutingRule
from handoff.routing import _next_turn, routing_inputs, rule_matches
from leads.models import Lead
from tests.test_handoff_pipeline import chatwoot_rows, qualified_lead, settle

pytestmark = pytest.mark.django_db


def hand_off(phone: str, score: int = 9, interest: str = "Energia solar") -> Handoff:
    lead = qualified_lead(phone, score=score)
    Lead.objects.filter(pk=lead.pk).update(interest=interest)
    return settle(lead)


PHONES = ["(11) 97000-0001", "(11) 97000-0002", "(11) 97000-0003", "(11) 97000-0004"]


def test_without_rules_the_inbox_members_take_turns(chatwoot):
    assignees = [hand_off(phone).assignee_id for phone in PHONES]
    assert assignees == [1, 2, 3, 1]
    conversations = {c["display_id"]: c["assignee_id"] for c in chatwoot_rows(chatwoot)["conversations"]}
    assert sorted(conversations.values()) == sorted(assignees)


def test_the_decision_is_recorded_with_inputs_candidates_choice_and_reason(chatwoot):
    handoff = hand_off("(21) 99812-3456")
    decision = handoff.routing
    assert decision["inputs"] == {"score": 9, "interest": "Energia solar", "area_code": "21"}
    assert [c["id"] for c in decision["candidates"]] == [1, 2, 3]
    assert decision["agent_id"] == handoff.assignee_id and decision["strategy"] == "round_robin"
    assert "Rodízio" in decision["reason"]


def test_online_only_skips_offline_agents(chatwoot):
    RoutingRule.objects.create(name="Online", online_only=True)
    assignees = [hand_off(phone).assignee_id for phone in PHONES[:3]]
    assert 3 not in assignees and set(assignees) == {1, 2}


def test_online_only_falls_back_to_everyone_when_nobody_is_online(chatwoot):
    for agent_id in (1, 2):
        chatwoot.set_availability(agent_id, "offline")
    RoutingRule.objects.create(name="Online", online_only=True)
    handoff = hand_off(PHONES[0])
    assert handoff.assignee_id in (1, 2, 3)
    assert "Ninguém online" in handoff.routing["reason"]


def test_a_returning_lead_goes_back_to_its_previous_agent(chatwoot):
    first = hand_off(PHONES[0])
    hand_off(PHONES[1])  # moves the round-robin on
    chatwoot.resolve(first.conversation_id)
    Lead.objects.filter(pk=first.lead_id).update(status=Lead.Status.CONVERTIDO)
    from leads import services
    from leads.phones import phone_parse

    lead, _ = services.lead_upsert(phone=phone_parse(PHONES[0]), data={"qualification_score": 10})
    Handoff.objects.filter(pk=first.pk).update(state=Handoff.State.DONE)
    second = settle_latest(lead)
    assert second.pk != first.pk and second.conversation_id != first.conversation_id
    assert second.assignee_id == first.assignee_id
    assert "voltou" in second.routing["reason"]


def settle_latest(lead: Lead) -> Handoff:
    from django.utils import timezone

    from handoff.services import handoff_process

    handoff = lead.handoffs.filter(state=Handoff.State.QUEUED).get()
    for _ in range(5):
        Handoff.objects.filter(pk=handoff.pk).update(next_attempt_at=timezone.now())
        handoff_process(handoff_id=handoff.pk)
        handoff.refresh_from_db()
        if handoff.state != Handoff.State.QUEUED:
            break
    return handoff


def test_least_loaded_picks_the_agent_with_fewest_open_leads(chatwoot):
    RoutingRule.objects.create(name="Carga", strategy=RoutingRule.Strategy.LEAST_LOADED, agent_ids="1,2")
    first = hand_off(PHONES[0])
    second = hand_off(PHONES[1])
    assert {first.assignee_id, second.assignee_id} == {1, 2}
    # The second lead's agent is freed: the least loaded now, although round robin would come back to the first.
    Lead.objects.filter(pk=second.lead_id).update(status=Lead.Status.CONVERTIDO)
    third = hand_off(PHONES[2])
    assert third.assignee_id == second.assignee_id != first.assignee_id


def test_fixed_always_picks_the_first_listed_agent(chatwoot):
    RoutingRule.objects.create(name="Fixo", strategy=RoutingRule.Strategy.FIXED, agent_ids="2,1")
    assert [hand_off(phone).assignee_id for phone in PHONES[:2]] == [2, 2]


def test_a_team_rule_assigns_the_team_then_a_member(chatwoot):
    RoutingRule.objects.create(name="Vendas", team_id=1)
    handoff = hand_off(PHONES[0])
    conversation = chatwoot_rows(chatwoot)["conversations"][0]
    assert conversation["team_id"] == 1 == handoff.team_id
    assert [candidate["id"] for candidate in handoff.routing["candidates"]] == [1, 2]  # the team's, not the inbox's
    assert conversation["assignee_id"] == handoff.assignee_id in (1, 2)


def test_the_chatwoot_strategy_leaves_assignment_to_chatwoot(chatwoot):
    RoutingRule.objects.create(name="Chatwoot", strategy=RoutingRule.Strategy.CHATWOOT, team_id=1)
    handoff = hand_off(PHONES[0])
    assert handoff.assignee_id is None and handoff.team_id == 1
    assert chatwoot_rows(chatwoot)["conversations"][0]["assignee_id"] in (None, 1, 2)


def test_the_first_matching_rule_by_position_wins(chatwoot):
    RoutingRule.objects.create(name="Desligada", position=0, enabled=False, strategy="fixed", agent_ids="3")
    RoutingRule.objects.create(name="Rio", position=1, area_codes="21", strategy="fixed", agent_ids="2")
    RoutingRule.objects.create(name="Quentes", position=2, min_score=9, strategy="fixed", agent_ids="1")
    assert hand_off("(21) 99812-3456", score=10).assignee_id == 2
    assert hand_off("(11) 97000-0009", score=10).assignee_id == 1


@pytest.mark.parametrize(
    ("rule", "inputs", "matches"),
    [
        ({"min_score": 8}, {"score": 8}, True),
        ({"min_score": 8}, {"score": 7}, False),
        ({"max_score": 8}, {"score": None}, False),
        ({"interest_keywords": "usina, rural"}, {"interest": "Sistema RURAL grande"}, True),
        ({"interest_keywords": "energia solar"}, {"interest": "Energía Solar"}, True),
        ({"interest_keywords": "usina"}, {"interest": "residencial"}, False),
        ({"area_codes": "11, 21"}, {"area_code": "21"}, True),
        ({"area_codes": "11"}, {"area_code": "31"}, False),
        ({}, {}, True),
    ],
)
def test_rule_conditions(rule, inputs, matches):
    full = {"score": 9, "interest": "", "area_code": "11", **inputs}
    assert rule_matches(RoutingRule(name="r", **rule), full) is matches


def test_area_code_comes_from_a_brazilian_phone_only():
    assert routing_inputs(Lead(phone="+5541991234567", qualification_score=8))["area_code"] == "41"
    assert routing_inputs(Lead(phone="+14155552671"))["area_code"] == ""


@pytest.mark.django_db(transaction=True)
def test_round_robin_is_fair_under_concurrency(postgres_only):
    turns: list[int] = []
    lock = threading.Lock()

    def take():
        try:
            chosen = _next_turn("inbox:fairness", [1, 2, 3])
            with lock:
                turns.append(chosen)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(turns) == {1: 10, 2: 10, 3: 10}
    assert RoundRobinCursor.objects.get(pool="inbox:fairness").last_agent_id in (1, 2, 3)


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_lead_make_one_conversation(postgres_only, chatwoot):
    from handoff.services import handoff_process

    lead = qualified_lead()
    handoff = lead.handoffs.get()
    chatwoot.set_latency(50)
    outcomes = []

    def work():
        try:
            outcomes.append(handoff_process(handoff_id=handoff.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("done") == 1 and outcomes.count("not claimed") == 3
    rows = chatwoot_rows(chatwoot)
    assert len(rows["contacts"]) == len(rows["conversations"]) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_triggers_queue_one_handoff(postgres_only, chatwoot):
    from handoff.services import handoff_create

    lead = qualified_lead(score=5)
    created = []

    def trigger():
        try:
            created.append(handoff_create(lead=lead, trigger="admin").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(created)) == 1
    assert lead.handoffs.count() == 1
