"""OpenAPI description of the API-key authentication (loaded by the app config)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "leads.authentication.BearerAPIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `manage.py create_api_key NAME`, sent as `Authorization: Bearer <key>`.",
        }
