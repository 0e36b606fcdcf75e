"""Route of the metrics API."""

from django.urls import path

from dashboard import api

urlpatterns = [path("metrics/", api.MetricsView.as_view(), name="metrics")]
