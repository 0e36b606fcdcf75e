"""Handoff admin, one module per area; importing them registers every ModelAdmin."""

from handoff.admin import calls, deliveries, handoffs, inboxes, leads, routing, tasks

__all__ = ["calls", "deliveries", "handoffs", "inboxes", "leads", "routing", "tasks"]
