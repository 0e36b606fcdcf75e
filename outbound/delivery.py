"""Sending deliveries: in order per lead and subscription, signed, each attempt recorded, retried with backoff.

The handoff dispatcher runs them on threads of their own (handoff.services.dispatcher): a slow or dead subscriber
holds those threads only, never a handoff's or a webhook task's.
"""

import logging
import random
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from handoff.chatwoot import ChatwootConfigurationError, PublicNetworkAdapter, address_is_public
from outbound.models import Delivery, DeliveryAttempt, Subscription
from outbound.signing import signed_headers

USER_AGENT = "Nexa/1.0 (+events)"
CLAIM = timedelta(minutes=2)  # longer than any attempt: its timeouts, and the answer read up to ANSWER_READ
ANSWER_READ = 64 * 1024  # bytes of a subscriber's answer read at the most (a 2xx needs no body)
RESPONSE_KEPT = 1000  # characters of a subscriber's answer kept with the attempt
logger = logging.getLogger(__name__)
RETRY_STATUSES = {408, 429}  # and every 5xx, a timeout, a connection error
BACKOFF_CAP = 3600.0  # seconds: the longest wait between two attempts


def deliveries_due(*, now, exclude: set, limit: int) -> list[int]:
    """Deliveries to send now: each the oldest pending one of its subscription and lead (order per lead)."""
    if limit <= 0:
        return []
    older = Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        lead_id=OuterRef("lead_id"),
        state=Delivery.State.PENDING,
        pk__lt=OuterRef("pk"),
    )
    due = (
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now, subscription__active=True)
        .exclude(pk__in=exclude)
        .filter(~Exists(older))
        .order_by("next_attempt_at", "pk")
    )
    return list(due.values_list("pk", flat=True)[:limit])


def delivery_send(*, delivery_id: int) -> str:
    """One attempt at one delivery, if it is still due and nobody else took it; returns its state.

    The claim counts the attempt and pushes the next one past this one's longest duration; its time is the claim's
    token: the outcome is saved only if nobody (another dispatcher, a redelivery from the admin) took the delivery
    since. Whatever goes wrong after the claim is recorded as a failed attempt, never left to repeat unseen.
    """
    now = timezone.now()
    lease = now + CLAIM
    taken = Delivery.objects.filter(pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=lease, attempts=F("attempts") + 1
    )
    if not taken:
        return "not claimed"
    delivery = Delivery.objects.select_related("event", "subscription").get(pk=delivery_id)
    try:
        status, answer, error, duration_ms = _post(delivery)
    except Exception as err:  # a bug must not turn into a silent resend every CLAIM
        logger.exception("delivery %s: the attempt failed", delivery.pk)
        status, answer, error, duration_ms = None, "", f"erro interno: {type(err).__name__}", 0
    DeliveryAttempt.objects.create(
        delivery=delivery,
        status=status,
        duration_ms=duration_ms,
        response=answer.replace("\x00", "")[:RESPONSE_KEPT],
        error=error[:255],
    )
    fields = {"last_status": status, "last_error": error[:255]}
    if status is not None and 200 <= status < 300:
        fields.update(state=Delivery.State.DELIVERED, delivered_at=timezone.now(), last_error="")
    elif status == 410:
        # Gone: the receiver asks never to be called again (the Standard Webhooks convention).
        Subscription.objects.filter(pk=delivery.subscription_id).update(
            active=False, disabled_reason=f"O receptor respondeu 410 (Gone) em {timezone.localtime():%d/%m %H:%M}."
        )
        fields.update(state=Delivery.State.FAILED, last_error="410: assinatura desativada")
    elif _retryable(status) and timezone.now() < delivery.retry_until:
        fields.update(next_attempt_at=timezone.now() + timedelta(seconds=retry_delay(delivery.attempts)))
    else:
        fields.update(state=Delivery.State.FAILED)
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING, next_attempt_at=lease).update(**fields)
    return fields.get("state", Delivery.State.PENDING)


def retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: about 5 s, 10 s, 20 s … (OUTBOUND_RETRY_BASE_SECONDS) up to an hour."""
    ceiling = min(BACKOFF_CAP, settings.OUTBOUND_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def subscription_url_check(url: str) -> None:
    """The rules Chatwoot's URL follows in production: https, and no private address unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Informe uma URL http(s) completa.")
    if parts.scheme != "https" and not settings.OUTBOUND_ALLOW_INSECURE_HTTP:
        raise ValidationError("Use https:// (ou OUTBOUND_ALLOW_INSECURE_HTTP=true numa rede de confiança).")
    if not settings.OUTBOUND_ALLOW_PRIVATE_NETWORK:
        import socket

        try:
            found = {info[4][0] for info in socket.getaddrinfo(parts.hostname, None, type=socket.SOCK_STREAM)}
        except OSError:
            return  # unresolvable for now: its deliveries fail as connection errors and are retried
        if any(not address_is_public(address) for address in found):
            raise ValidationError(
                "Este endereço é de uma rede privada; permita com OUTBOUND_ALLOW_PRIVATE_NETWORK=true se o receptor "
                "(n8n, Atlas) está mesmo na sua rede."
            )


def _post(delivery: Delivery) -> tuple[int | None, str, str, int]:
    """(status or None, the answer's text, the error, duration in ms); never raises for the subscriber's faults."""
    subscription, event = delivery.subscription, delivery.event
    started = time.monotonic()
    try:
        subscription_url_check(subscription.url)
        headers = signed_headers(
            webhook_id=event.webhook_id, body=event.body, secrets_=subscription.secret_list, at=timezone.now()
        )
        with _session().post(
            subscription.url,
            data=event.body.encode(),
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
            timeout=(settings.OUTBOUND_CONNECT_TIMEOUT, settings.OUTBOUND_READ_TIMEOUT),
            allow_redirects=False,
            stream=True,  # the answer is read up to ANSWER_READ: an endless one cannot hold the thread
        ) as response:
            answer = response.raw.read(ANSWER_READ, decode_content=True).decode("utf-8", errors="replace")
        return response.status_code, answer, "", _since(started)
    except requests.Timeout:
        return None, "", "tempo esgotado", _since(started)
    except requests.RequestException as err:
        return None, "", f"sem conexão: {type(err).__name__}", _since(started)
    except (ValidationError, ValueError, ChatwootConfigurationError) as err:  # the URL's rules, an unusable secret
        message = err.messages[0] if isinstance(err, ValidationError) else str(err)
        return None, "", f"configuração: {message}", _since(started)


def _retryable(status: int | None) -> bool:
    return status is None or status in RETRY_STATUSES or status >= 500


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if not settings.OUTBOUND_ALLOW_PRIVATE_NETWORK:
        adapter = PublicNetworkAdapter()  # the address actually connected to is checked too (DNS rebinding)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session
