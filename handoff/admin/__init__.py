"""Handoff admin, one module per area; importing them registers every ModelAdmin."""

from handoff.admin import calls, deliveries, handoffs, leads, routing, tasks

__all__ = ["calls", "deliveries", "handoffs", "leads", "routing", "tasks"]
