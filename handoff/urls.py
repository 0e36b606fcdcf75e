"""Routes of the handoff API."""

from django.urls import path

from handoff import api

urlpatterns = [
    path("handoffs/", api.HandoffRequestView.as_view(), name="handoff-request"),
]
