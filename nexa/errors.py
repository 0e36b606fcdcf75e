"""Error responses: DRF's field-keyed JSON in views, and JSON 404/500 pages for anything under /api/."""

from django.http import JsonResponse
from django.views.defaults import page_not_found as html_page_not_found
from django.views.defaults import server_error as html_server_error
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from leads.services import LeadConflict


def exception_handler(exc, context):
    if isinstance(exc, LeadConflict):
        return Response({exc.field_name: [exc.message]}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


def page_not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Não encontrado."}, status=404)
    return html_page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        # Never the exception text: it could carry data or configuration.
        return JsonResponse({"detail": "Erro interno. O erro foi registrado."}, status=500)
    return html_server_error(request)
