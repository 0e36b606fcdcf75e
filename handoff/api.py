"""The endpoint Atlas Nexa's handoff trigger calls with a qualified lead and its bot history."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.serializers import HandoffRequestSerializer, HandoffResponseSerializer
from leads import services
from leads.api import ERRORS, message_inputs
from leads.serializers import LeadSerializer


class HandoffRequestView(APIView):
    @extend_schema(
        operation_id="handoffs_create",
        request=HandoffRequestSerializer,
        responses={200: HandoffResponseSerializer, **ERRORS},
        description="Upserts the lead (`id` is Atlas's lead id) and adds the bot history it does not hold yet.",
    )
    def post(self, request):
        serializer = HandoffRequestSerializer(data=request.data, context={"lenient": True})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        phone = data.pop("phone")
        history = data.pop("bot_history", None) or []
        with transaction.atomic():
            lead, _ = services.lead_upsert(phone=phone, data=data)
            added = services.history_add(lead=lead, history=message_inputs(history))
        body = {
            "lead": LeadSerializer(lead).data,
            "handoff": None,
            "messages_created": len(added.created),
            "messages_ignored": added.ignored,
        }
        return Response(body)
