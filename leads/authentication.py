"""API-key authentication for Atlas Nexa and other clients: `Authorization: Bearer <key>`."""

from dataclasses import dataclass

from rest_framework import authentication, exceptions
from rest_framework_api_key.models import APIKey


@dataclass(frozen=True)
class ApiClient:
    """The caller behind an API key; stands in for `request.user` on API-key requests."""

    name: str
    scopes: frozenset[str] | None = None  # None: every scope (a key made before scopes existed, or made without)
    is_authenticated: bool = True
    is_staff: bool = False
    is_active: bool = True

    def __str__(self) -> str:
        return self.name


class BearerAPIKeyAuthentication(authentication.BaseAuthentication):
    """Keys are stored hashed (djangorestframework-api-key); revoked or expired keys get 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _, key = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("Chave de API ausente após Bearer.")
        # APIKey.objects.get_from_key, with the key's scopes in the same read.
        prefix = key.partition(".")[0]
        api_key = APIKey.objects.get_usable_keys().select_related("access").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Chave de API inválida ou revogada.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("Esta chave de API expirou.")
        access = getattr(api_key, "access", None)
        return ApiClient(name=api_key.name, scopes=frozenset(access.scopes) if access else None), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
