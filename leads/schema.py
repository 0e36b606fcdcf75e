"""OpenAPI description of the API-key authentication and of the scope each operation needs (loaded by the app
config and by REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from leads.models import ApiScope
from nexa.permissions import required_scope


class BearerAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "leads.authentication.BearerAPIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        scopes = ", ".join(f"`{scope}` ({label})" for scope, label in ApiScope.choices)
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key from `manage.py create_api_key NAME [--scopes …]`, sent as `Authorization: Bearer <key>`. "
                f"Scopes: {scopes}. Each operation names the one it needs (`x-required-scope`); a key without it gets "
                "403 with `missing_scope`. A key made without scopes has them all."
            ),
        }


class ScopedAutoSchema(AutoSchema):
    """Each operation says the API-key scope it needs, in its description and as `x-required-scope`."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        scope = required_scope(self.view, self.method)
        if operation is not None and scope:
            operation["x-required-scope"] = str(scope)
            operation["description"] = f"{operation.get('description', '')}\n\nAPI-key scope: `{scope}`.".strip()
        return operation
