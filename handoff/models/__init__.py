"""Handoff models: the outbox and its timeline, the audit of Chatwoot calls, routing, webhook deliveries."""

from handoff.models.calls import ChatwootCall, ChatwootThrottle
from handoff.models.handoff import Handoff, HandoffDispatcher, HandoffEvent
from handoff.models.inboxes import ChatwootInbox, ChatwootIntegrationUser
from handoff.models.routing import RoundRobinCursor, RoutingRule
from handoff.models.webhooks import WebhookDelivery

__all__ = [
    "ChatwootCall",
    "ChatwootInbox",
    "ChatwootIntegrationUser",
    "ChatwootThrottle",
    "Handoff",
    "HandoffDispatcher",
    "HandoffEvent",
    "RoundRobinCursor",
    "RoutingRule",
    "WebhookDelivery",
]
