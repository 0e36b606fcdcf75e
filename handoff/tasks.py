"""django-q2 entry points: fetch by id and call the service; no business logic here."""

from handoff import services


def handoffs_dispatch() -> int:
    return services.handoffs_dispatch(run=services.handoff_process)


def handoff_process(handoff_id: str) -> str:
    # Tasks queued by an earlier version, one per handoff; the dispatcher runs them now.
    return services.handoff_process(handoff_id=handoff_id)


def handoffs_sweep() -> int:
    return services.handoffs_sweep()


def webhook_process(delivery_pk: int) -> str:
    return services.webhook_process(delivery_pk=delivery_pk)


def webhooks_requeue_stale() -> int:
    return services.webhooks_requeue_stale()


def handoffs_sla_check() -> int:
    return services.handoffs_sla_check()


def handoffs_reconcile() -> int:
    return services.handoffs_reconcile()


def inboxes_refresh() -> int:
    return services.inboxes_refresh_scheduled()


def retention_purge() -> dict:
    return services.retention_purge()._asdict()
