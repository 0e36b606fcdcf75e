"""URL routes: the admin, the REST API and its schema, the probes."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from nexa import health

admin.site.site_header = "Nexa"
admin.site.site_title = "Nexa"
admin.site.index_title = _("Leads and handoffs")

handler404 = "nexa.errors.page_not_found"
handler500 = "nexa.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("api/v1/", include("leads.urls")),
    path("api/v1/", include("handoff.urls")),
    path("api/v1/", include("dashboard.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
