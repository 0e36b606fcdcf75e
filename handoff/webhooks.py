"""The Chatwoot webhook receiver: verify, store the raw delivery, acknowledge at once; a task processes it.

Chatwoot waits 5 s and never retries (API-NOTES F.5), so nothing slow happens in the request.
"""

import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.services.webhooks import webhook_receive
from handoff.signatures import SignatureError, signature_verify
from nexa.errors import ErrorSerializer

logger = logging.getLogger(__name__)

HEADERS_KEPT = ("Content-Type", "User-Agent", "X-Chatwoot-Delivery", "X-Chatwoot-Timestamp", "X-Chatwoot-Signature")
REJECTED_COUNTER = "nexa:webhooks:rejected"


class ChatwootWebhookView(APIView):
    authentication_classes = []  # no session, so no CSRF; the signature is the authentication
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = []  # the raw bytes are what is signed

    @extend_schema(
        operation_id="chatwoot_webhook",
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={
            200: OpenApiResponse(
                inline_serializer("WebhookAcknowledgement", {"status": serializers.CharField()}),
                description="Accepted (or a duplicate, or an event Nexa ignores).",
            ),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Not a JSON object with an `event` (or a bad Content-Length)."
            ),
            401: OpenApiResponse(ErrorSerializer, description="Missing, wrong or stale signature."),
            413: OpenApiResponse(ErrorSerializer, description="Body over CHATWOOT_WEBHOOK_MAX_BYTES."),
        },
        description="Account webhooks from Chatwoot, signed with X-Chatwoot-Signature (Chatwoot ≥ 4.11.2).",
    )
    def post(self, request):
        limit = settings.CHATWOOT_WEBHOOK_MAX_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit or len(request.body) > limit:
            return Response({"detail": f"Corpo maior que {limit} bytes."}, status=413)
        body = request.body
        try:
            webhook_authenticate(request, body)
        except SignatureError as err:
            cache.add(REJECTED_COUNTER, 0, timeout=None)
            cache.incr(REJECTED_COUNTER)
            logger.warning("Chatwoot webhook rejected: %s", err)
            return Response({"detail": "Assinatura inválida."}, status=401)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response({"detail": "JSON inválido."}, status=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            return Response({"event": ["Envie um objeto JSON com o campo event."]}, status=400)
        headers = {name: request.headers[name] for name in HEADERS_KEPT if name in request.headers}
        delivery_id = request.headers.get("X-Chatwoot-Delivery") or _body_id(body)
        outcome = webhook_receive(
            body=body.decode("utf-8", errors="replace"), headers=headers, payload=payload, delivery_id=delivery_id
        )
        return Response({"status": outcome})


def webhook_authenticate(request, body: bytes) -> None:
    """The signature; or, only where explicitly enabled for Chatwoot < 4.11.2, the secret token in the URL."""
    signature = request.headers.get("X-Chatwoot-Signature")
    url_token = settings.CHATWOOT_WEBHOOK_URL_TOKEN
    if url_token and not signature:
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), url_token.encode()):
            raise SignatureError("unsigned delivery without the URL token")
        return
    signature_verify(
        body=body,
        timestamp=request.headers.get("X-Chatwoot-Timestamp"),
        signature=signature,
        secrets=settings.CHATWOOT_WEBHOOK_SECRETS,
        tolerance=settings.CHATWOOT_WEBHOOK_TOLERANCE_SECONDS,
    )


def _body_id(body: bytes) -> str:
    """Unsigned (old) Chatwoot sends no delivery id: the body's hash makes an exact replay a duplicate."""
    return "sha256:" + hashlib.sha256(body).hexdigest()
