"""Who may use the API: clients with an API key read and write within its scopes; a staff session may only read."""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework_api_key.models import AbstractAPIKey


class ApiKeyOrStaffReader(BasePermission):
    """Writes need an API key, so a browser session (and its CSRF token) can never change data through the API.

    An API key needs the scope the view names for the method (`required_scopes`, e.g. {"GET": "leads:read"}; every
    API view names one for each method it answers, tests/test_api_access.py checks it; one it does not name is
    closed to keys with scopes). A key without scopes may do everything.
    """

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, AbstractAPIKey):
            scopes, needed = request.user.scopes, required_scope(view, request.method)
            if scopes is not None and needed not in scopes:  # no scope named for it: closed to scoped keys
                if needed is None:
                    raise PermissionDenied("Nenhum escopo de chave de API abre esta operação.")
                raise PermissionDenied(
                    {"detail": f"Esta chave de API não tem o escopo {needed}.", "missing_scope": needed}
                )
            return True
        user = request.user
        return bool(
            user and user.is_authenticated and request.method in SAFE_METHODS and user.has_perm("leads.view_lead")
        )


def required_scope(view, method: str) -> str | None:
    """The scope a view needs for an HTTP method (HEAD and OPTIONS as GET)."""
    scopes = getattr(view, "required_scopes", {})
    return scopes.get("GET" if method in ("HEAD", "OPTIONS") else method)
