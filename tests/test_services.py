"""Lead services under concurrency: one lead per phone identity, whatever the spelling and timing."""

import threading

import pytest
from django.db import connection

from leads import services
from leads.models import BotConversation, Lead
from leads.phones import phone_parse


def run_together(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def worker(call):
        try:
            barrier.wait()
            call()
        except Exception as err:  # reported by the assertion below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_twin_spellings_make_one_lead(postgres_only):
    for attempt in range(5):
        Lead.objects.all().delete()
        run_together(
            lambda: services.lead_upsert(phone=phone_parse("(11) 98765-4321"), data={"name": "A"}),
            lambda: services.lead_upsert(phone=phone_parse("+55 11 8765-4321"), data={"name": "B"}),
            lambda: services.lead_upsert(phone=phone_parse("5511987654321"), data={"qualification_score": 8}),
        )
        assert Lead.objects.count() == 1, f"attempt {attempt}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_message_posts_keep_the_count_right(postgres_only):
    lead, _ = services.lead_upsert(phone=phone_parse("(11) 98765-4321"), data={"name": "A"})

    def post(prefix):
        return lambda: services.messages_add(
            lead=lead,
            messages=[
                services.NewMessage(sender="lead", content=f"{prefix}{i}", external_id=f"{prefix}{i}")
                for i in range(20)
            ]
            + [services.NewMessage(sender="bot", content="x", external_id="shared")],
        )

    run_together(post("a"), post("b"), post("c"))
    conversation = BotConversation.objects.get(lead=lead)
    assert conversation.messages_count == conversation.messages.count() == 61


@pytest.mark.django_db
def test_status_follows_score_only_before_handoff(settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    assert services.lead_status_for_score(status="novo", score=7) == "qualificado"
    assert services.lead_status_for_score(status="qualificado", score=3) == "novo"
    assert services.lead_status_for_score(status="novo", score=None) == "novo"
    for closed in ("handed_off", "convertido", "perdido"):
        assert services.lead_status_for_score(status=closed, score=1) == closed
