"""Routes of the handoff API."""

from django.urls import path

from handoff import api, webhooks

urlpatterns = [
    path("handoffs/", api.HandoffRequestView.as_view(), name="handoff-request"),
    path("webhooks/chatwoot/", webhooks.ChatwootWebhookView.as_view(), name="chatwoot-webhook"),
]
