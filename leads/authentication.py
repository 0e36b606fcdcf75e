"""API-key authentication for Atlas Nexa and other clients: `Authorization: Bearer <key>`."""

from dataclasses import dataclass

from rest_framework import authentication, exceptions
from rest_framework_api_key.models import APIKey


@dataclass(frozen=True)
class ApiClient:
    """The caller behind an API key; stands in for `request.user` on API-key requests."""

    name: str
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
        try:
            api_key = APIKey.objects.get_from_key(key)
        except APIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Chave de API inválida ou revogada.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("Esta chave de API expirou.")
        return ApiClient(name=api_key.name), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
