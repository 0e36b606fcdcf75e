"""Handoff services: the outbox lifecycle, the runner that performs the Chatwoot steps, admin operations, retention."""

from handoff.services.dispatcher import handoffs_dispatch
from handoff.services.inboxes import inboxes_refresh_scheduled
from handoff.services.lifecycle import (
    HandoffRefused,
    handoff_cancel,
    handoff_create,
    handoff_enqueue,
    handoff_request,
    handoff_retry,
    handoff_sample,
    handoff_trigger_admin,
    handoffs_sweep,
)
from handoff.services.operations import handoff_reassign, reassign_choices
from handoff.services.retention import PurgeCounts, retention_purge
from handoff.services.runner import handoff_process
from handoff.services.sync import handoff_escalate, handoffs_reconcile, handoffs_sla_check
from handoff.services.webhooks import webhook_process, webhook_reprocess, webhooks_requeue_stale

__all__ = [
    "HandoffRefused",
    "PurgeCounts",
    "handoff_cancel",
    "handoff_create",
    "handoff_enqueue",
    "handoff_escalate",
    "handoff_process",
    "handoff_reassign",
    "handoff_request",
    "handoff_retry",
    "handoff_sample",
    "handoff_trigger_admin",
    "handoffs_dispatch",
    "handoffs_reconcile",
    "handoffs_sla_check",
    "handoffs_sweep",
    "inboxes_refresh_scheduled",
    "reassign_choices",
    "retention_purge",
    "webhook_process",
    "webhook_reprocess",
    "webhooks_requeue_stale",
]
