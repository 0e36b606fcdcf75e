"""The leads API Atlas Nexa writes to: upsert by phone, read, patch, append messages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.selectors import leads_with_handoffs
from leads import selectors, services
from leads.models import Lead
from leads.serializers import (
    LeadFilterSerializer,
    LeadPatchSerializer,
    LeadSerializer,
    LeadUpsertSerializer,
    MessageInputSerializer,
    MessagesAddedSerializer,
    messages_validate,
)

ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body names each bad field."),
    401: OpenApiResponse(description="Missing, invalid, revoked or expired API key."),
    409: OpenApiResponse(description="The phone or Atlas id belongs to another lead."),
    413: OpenApiResponse(description="Request body too large."),
    429: OpenApiResponse(description="Too many requests for this API key; retry later."),
}


class LeadPagination(CursorPagination):
    """Cursor pages never count the table, so listing stays fast on millions of leads."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def message_inputs(rows: list[dict]) -> list[services.NewMessage]:
    return [services.NewMessage(**row) for row in rows]


class LeadListView(APIView):
    @extend_schema(
        operation_id="leads_list",
        parameters=[
            OpenApiParameter("phone", str, description="Any common spelling; finds the 9th-digit twin too."),
            OpenApiParameter("status", str, enum=[value for value, _ in Lead.Status.choices]),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: LeadSerializer(many=True), 400: ERRORS[400], 401: ERRORS[401]},
    )
    def get(self, request):
        filters = LeadFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = LeadPagination()
        leads = leads_with_handoffs(selectors.lead_list(**filters.validated_data))
        page = paginator.paginate_queryset(leads, request, view=self)
        return paginator.get_paginated_response(LeadSerializer(page, many=True).data)

    @extend_schema(
        operation_id="leads_upsert",
        request=LeadUpsertSerializer,
        responses={201: LeadSerializer, 200: LeadSerializer, **ERRORS},
        description="Create the lead for this phone, or update the lead that has it (or its 9th-digit twin).",
    )
    def post(self, request):
        serializer = LeadUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        phone = data.pop("phone")
        lead, created = services.lead_upsert(phone=phone, data=data)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class LeadDetailView(APIView):
    @extend_schema(operation_id="leads_retrieve", responses={200: LeadSerializer, 401: ERRORS[401], 404: None})
    def get(self, request, lead_id):
        return Response(LeadSerializer(get_object_or_404(Lead, pk=lead_id)).data)

    @extend_schema(
        operation_id="leads_partial_update",
        request=LeadPatchSerializer,
        responses={200: LeadSerializer, 404: None, **ERRORS},
    )
    def patch(self, request, lead_id):
        lead = get_object_or_404(Lead, pk=lead_id)
        serializer = LeadPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        lead = services.lead_update(lead=lead, data=data, phone=data.pop("phone", None))
        return Response(LeadSerializer(lead).data)


class LeadMessagesView(APIView):
    @extend_schema(
        operation_id="leads_messages_create",
        request=MessageInputSerializer(many=True),
        responses={201: MessagesAddedSerializer, 200: MessagesAddedSerializer, 404: None, **ERRORS},
        description="One message object or a list of them. A message whose external_id is already stored is "
        "ignored. Answers 201 when anything was stored, 200 when everything was a repeat.",
    )
    def post(self, request, lead_id):
        lead = get_object_or_404(Lead, pk=lead_id)
        rows = messages_validate(request.data)
        result = services.messages_add(lead=lead, messages=message_inputs(rows))
        body = MessagesAddedSerializer(
            {"created": len(result.created), "ignored": result.ignored, "messages": result.created}
        ).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
