"""Who may use the API: clients with an API key read and write; a staff session may only read."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework_api_key.models import AbstractAPIKey


class ApiKeyOrStaffReader(BasePermission):
    """Writes need an API key, so a browser session (and its CSRF token) can never change data through the API."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, AbstractAPIKey):
            return True
        user = request.user
        return bool(
            user and user.is_authenticated and request.method in SAFE_METHODS and user.has_perm("leads.view_lead")
        )
