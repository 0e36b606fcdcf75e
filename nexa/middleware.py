"""Refuse oversize request bodies with 413 before anything reads them; the API speaks the site's language."""

from django.conf import settings
from django.http import JsonResponse
from django.utils import translation


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Cabeçalho Content-Length inválido."}, status=400)
        if length > settings.API_MAX_BODY_BYTES:
            return JsonResponse(
                {"detail": f"Corpo da requisição grande demais: o limite é {settings.API_MAX_BODY_BYTES} bytes."},
                status=413,
            )
        return self.get_response(request)


class ApiLanguageMiddleware:
    """Pages follow the browser's language (LocaleMiddleware, just before this); the API does not: Atlas, n8n and
    other machines read its labels and messages, so they stay in LANGUAGE_CODE whatever Accept-Language says."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
