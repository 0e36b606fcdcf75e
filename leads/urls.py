"""Routes of the leads API."""

from django.urls import path

from leads import api

urlpatterns = [
    path("leads/", api.LeadListView.as_view(), name="lead-list"),
    path("leads/<uuid:lead_id>/", api.LeadDetailView.as_view(), name="lead-detail"),
    path("leads/<uuid:lead_id>/messages/", api.LeadMessagesView.as_view(), name="lead-messages"),
]
