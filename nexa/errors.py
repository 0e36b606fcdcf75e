"""Error responses: DRF's field-keyed JSON in views, JSON 404/500 pages under /api/, and their OpenAPI description."""

from django.http import JsonResponse
from django.views.defaults import page_not_found as html_page_not_found
from django.views.defaults import server_error as html_server_error
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from leads.services import LeadConflict


class ErrorSerializer(serializers.Serializer):
    """The body of every error that is not about a particular field."""

    detail = serializers.CharField()


API_ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT, description="Invalid input: the body names each bad field (or the bad Content-Length)."
    ),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, revoked or expired API key."),
    403: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="An API key without the operation's scope (`missing_scope` names it), or a browser session "
        "without permission to read leads; sessions never write.",
    ),
    404: OpenApiResponse(ErrorSerializer, description="No lead with this id."),
    409: OpenApiResponse(OpenApiTypes.OBJECT, description="The phone or Atlas id belongs to another lead."),
    413: OpenApiResponse(ErrorSerializer, description="Request body over API_MAX_BODY_BYTES."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests for this API key; retry after Retry-After."),
    503: OpenApiResponse(
        ErrorSerializer,
        description="The inbox named (instance or inbox_id) is not known yet and Chatwoot could not be asked now; "
        "nothing was written. Retry after Retry-After.",
    ),
}
# Every API operation can meet these: the body limit and Content-Length check run before any view (nexa.middleware).
READ_ERRORS = (400, 401, 403, 413, 429)
WRITE_ERRORS = (*READ_ERRORS, 409)


def api_errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses, for `extend_schema(responses=...)`."""
    return {code: API_ERRORS[code] for code in statuses}


class ChatwootUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "O Chatwoot não respondeu agora; tente de novo em instantes."
    default_code = "chatwoot_unavailable"
    retry_after_seconds = 10


def exception_handler(exc, context):
    if isinstance(exc, LeadConflict):
        return Response({exc.field_name: [exc.message]}, status=status.HTTP_409_CONFLICT)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, ChatwootUnavailable):
        response["Retry-After"] = str(exc.retry_after_seconds)
    return response


def page_not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Não encontrado."}, status=404)
    return html_page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        # Never the exception text: it could carry data or configuration.
        return JsonResponse({"detail": "Erro interno. O erro foi registrado."}, status=500)
    return html_server_error(request)
