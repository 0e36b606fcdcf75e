"""API error responses: DRF's field-keyed JSON for every failure, including oversize bodies."""

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from leads.services import LeadConflict


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        body = {"detail": "Corpo da requisição grande demais."}
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, LeadConflict):
        return Response({exc.field_name: [exc.message]}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)
