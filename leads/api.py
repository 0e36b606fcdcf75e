"""The leads API Atlas Nexa writes to: upsert by phone, read, patch, append messages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.selectors import leads_with_handoffs
from leads import selectors, services
from leads.models import ApiScope, Lead
from leads.serializers import (
    LeadFilterSerializer,
    LeadPageSerializer,
    LeadPatchSerializer,
    LeadSerializer,
    LeadUpsertSerializer,
    MessageInputSerializer,
    MessagesAddedSerializer,
    TranscriptMessageSerializer,
    TranscriptPageSerializer,
    TranscriptQuerySerializer,
    messages_validate,
)
from nexa.errors import READ_ERRORS, WRITE_ERRORS, api_errors
from nexa.paginators import StrictCursorPagination


class LeadPagination(StrictCursorPagination):
    """Newest first."""

    ordering = ("-created_at", "-id")


class TranscriptPagination(StrictCursorPagination):
    """Oldest first, as a conversation reads; a client follows it with the next link or with `after`."""

    ordering = ("created_at", "id")
    page_size = 100


def message_inputs(rows: list[dict]) -> list[services.NewMessage]:
    return [services.NewMessage(**row) for row in rows]


class LeadListView(APIView):
    required_scopes = {"GET": ApiScope.LEADS_READ, "POST": ApiScope.LEADS_WRITE}

    @extend_schema(
        operation_id="leads_list",
        parameters=[
            OpenApiParameter("phone", str, description="Any common spelling; finds the 9th-digit twin too."),
            OpenApiParameter("status", str, enum=[value for value, _ in Lead.Status.choices]),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: LeadPageSerializer, **api_errors(*READ_ERRORS)},
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
        responses={201: LeadSerializer, 200: LeadSerializer, **api_errors(*WRITE_ERRORS, 503)},
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
    required_scopes = {"GET": ApiScope.LEADS_READ, "PATCH": ApiScope.LEADS_WRITE}

    @extend_schema(operation_id="leads_retrieve", responses={200: LeadSerializer, **api_errors(*READ_ERRORS, 404)})
    def get(self, request, lead_id):
        return Response(LeadSerializer(get_object_or_404(Lead, pk=lead_id)).data)

    @extend_schema(
        operation_id="leads_partial_update",
        request=LeadPatchSerializer,
        responses={200: LeadSerializer, **api_errors(*WRITE_ERRORS, 404)},
    )
    def patch(self, request, lead_id):
        lead = get_object_or_404(Lead, pk=lead_id)
        serializer = LeadPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        lead = services.lead_update(lead=lead, data=data, phone=data.pop("phone", None))
        return Response(LeadSerializer(lead).data)


class LeadMessagesView(APIView):
    required_scopes = {"GET": ApiScope.LEADS_READ, "POST": ApiScope.LEADS_WRITE}

    @extend_schema(
        operation_id="leads_messages_list",
        parameters=[
            OpenApiParameter(
                "after",
                str,
                description="Only what came after: a message id (what was stored after it, a message mirrored late "
                "included) or a time (ISO 8601: what was sent after it).",
            ),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: TranscriptPageSerializer, **api_errors(*READ_ERRORS, 404)},
        description="The lead's whole transcript across the bot's and the humans' phases, oldest first: the lead's, "
        "the bot's and the agents' messages (Chatwoot's private notes are never in it). Agent messages carry the "
        "agent's name; messages from Chatwoot carry its message id and the handoff whose conversation they are in.",
    )
    def get(self, request, lead_id):
        lead = get_object_or_404(Lead, pk=lead_id)
        query = TranscriptQuerySerializer(data=request.query_params, context={"lead": lead})
        query.is_valid(raise_exception=True)
        paginator = TranscriptPagination()
        messages = selectors.transcript_after(lead=lead, after=query.validated_data.get("after"))
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(TranscriptMessageSerializer(page, many=True).data)

    @extend_schema(
        operation_id="leads_messages_create",
        request=MessageInputSerializer(many=True),
        responses={201: MessagesAddedSerializer, 200: MessagesAddedSerializer, **api_errors(*WRITE_ERRORS, 404)},
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
