"""The endpoint Atlas Nexa's handoff trigger calls with a qualified lead and its bot history."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff import services as handoff_services
from handoff.models import Handoff
from handoff.selectors import handoff_latest_known, handoff_summary
from handoff.serializers import HandoffRequestSerializer, HandoffResponseSerializer
from leads import services
from leads.api import message_inputs
from leads.models import ApiScope
from leads.serializers import LeadSerializer
from nexa.errors import WRITE_ERRORS, api_errors


class HandoffRequestView(APIView):
    required_scopes = {"POST": ApiScope.LEADS_WRITE}

    @extend_schema(
        operation_id="handoffs_create",
        request=HandoffRequestSerializer,
        responses={202: HandoffResponseSerializer, 200: HandoffResponseSerializer, **api_errors(*WRITE_ERRORS, 503)},
        description=(
            "Upserts the lead (`id` is Atlas's lead id), adds the bot history Nexa does not hold yet, and queues "
            "the handoff to Chatwoot: 202 with the queued handoff, or 200 with `handoff` and the `reason` none "
            "was queued (below the threshold, or already with an agent)."
        ),
    )
    def post(self, request):
        serializer = HandoffRequestSerializer(data=request.data, context={"lenient": True})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        phone = data.pop("phone")
        history = data.pop("bot_history", None) or []
        with transaction.atomic():
            lead, _ = services.lead_upsert(phone=phone, data=data, trigger=Handoff.Trigger.API)
            added = services.history_add(lead=lead, history=message_inputs(history))
            handoff, reason = handoff_services.handoff_request(lead=lead)
        if handoff is not None:  # the lead's newest (below the threshold, it may have an older one)
            handoff_latest_known(lead, handoff)
        body = {
            "lead": LeadSerializer(lead).data,
            "handoff": handoff_summary(handoff),
            "reason": reason,
            "messages_created": len(added.created),
            "messages_ignored": added.ignored,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED if reason == "queued" else status.HTTP_200_OK)
