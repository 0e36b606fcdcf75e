"""Routes of the dashboard."""

from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.dashboard, name="index"),
    path("agentes.csv", views.agents_csv, name="agents-csv"),
    path("funil.csv", views.funnel_csv, name="funnel-csv"),
    path("conversao.csv", views.conversion_csv, name="conversion-csv"),
]
