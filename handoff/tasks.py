"""django-q2 entry points: fetch by id and call the service; no business logic here."""

from handoff import services


def handoff_process(handoff_id: str) -> str:
    return services.handoff_process(handoff_id=handoff_id)


def handoffs_sweep() -> int:
    return services.handoffs_sweep()
