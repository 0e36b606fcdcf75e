"""Run one attempt of a handoff: claim it, perform the steps that are not done yet, then settle its state."""

import logging
import random
import time
import uuid
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoff import throttle
from handoff.chatwoot import (
    ChatwootAuthError,
    ChatwootConfigurationError,
    ChatwootNotFound,
    ChatwootPermanentError,
    ChatwootTransientError,
)
from handoff.models import Handoff, HandoffEvent
from handoff.services import steps
from handoff.services.chatwoot import chatwoot_for
from handoff.services.lifecycle import handoff_event
from handoff.services.steps.note import handoff_history, handoff_note_parts
from outbound.services import handoff_ended_emit

Kind = HandoffEvent.Kind

logger = logging.getLogger(__name__)

AUTH_HELP = (
    "O Chatwoot recusou o token (401). Use o token de acesso de um usuário administrador "
    "(Perfil → Token de acesso) em CHATWOOT_API_TOKEN; tokens de bot e de plataforma não servem. "
    "Rode `python manage.py check_chatwoot`."
)


class LeaseLost(Exception):
    """Another worker holds this handoff now (or it was cancelled): stop without touching it."""


class HandoffRun:
    """One attempt: the handoff, the lease token that proves we own it, and the step being performed."""

    def __init__(self, handoff: Handoff, token: uuid.UUID):
        self.handoff = handoff
        self.token = token
        self.step = ""
        self.inbox = None  # the handoff's ChatwootInbox, loaded by the first step
        self.contact_absent = False  # the contact step looked, found nothing, and no create may have made it since
        self.contact_created = False
        self.conversation_created = False
        self.conversation_sent = False  # a create whose answer was lost: the conversation found marked is this one
        self.reused = None  # the conversation reused in this attempt, as Chatwoot listed it
        # What this attempt read and may read again in a step run again: still true after a failure that wrote
        # nothing (a 5xx, a refused connection, a 429); forgotten after one whose answer was lost.
        self.contact = None  # the contact as found or read
        self.conversations = None  # the contact's conversations as listed
        self.unsaved = {}  # checkpoint(later=True) fields not saved yet

    @cached_property
    def history(self) -> list:
        """The lead's messages up to the first attempt, read once per attempt: fixed by history_until."""
        return handoff_history(self.handoff)

    @cached_property
    def note_parts(self) -> list[str]:
        """The bot-history note, rendered once per attempt: its history is fixed (history_until), and the WhatsApp
        window it may warn of is decided by the conversation step before either step renders it."""
        return handoff_note_parts(self.handoff, self.history)

    def checkpoint(self, *, later: bool = False, **fields) -> None:
        """Save progress at once, and only while we still hold the lease.

        `later`: progress whose loss costs only a repeat that writes nothing twice in Chatwoot (a read, or no call)
        is saved with the next checkpoint, or with the attempt's outcome.
        """
        for name, value in fields.items():
            setattr(self.handoff, name, value)
        self.unsaved.update(fields)
        if later:
            return
        updated = Handoff.objects.held(self.handoff.pk, self.token).update(**self.unsaved, updated_at=timezone.now())
        if not updated:
            raise LeaseLost(self.handoff.pk)
        self.unsaved = {}


def handoff_process(*, handoff_id) -> str:
    """One attempt at a handoff; safe to call any number of times, from any number of workers."""
    token = uuid.uuid4()
    if not _claim(handoff_id, token):
        return "not claimed"
    run = HandoffRun(Handoff.objects.select_related("lead").get(pk=handoff_id), token)
    handoff_event(run.handoff, Kind.ATTEMPT, f"Tentativa {run.handoff.attempts}.")
    try:
        client = chatwoot_for(step=lambda: run.step, handoff=run.handoff, wait_seconds=_throttle_wait_seconds())
        for step in (steps.inbox, steps.contact, steps.conversation, steps.note, steps.labels, steps.assignment):
            run.step = step.__name__
            _step_with_retries(step, run, client)
        steps.finish(run)
        return "done"
    except LeaseLost:
        return "lease lost"
    except throttle.ChatwootDeferred as err:
        _requeue(run, err.until, str(err), count_attempt=False)
        return "deferred"
    except ChatwootConfigurationError as err:
        _fail(run, f"Configuração do Chatwoot incompleta: {err}")
    except ChatwootAuthError as err:
        _fail(run, f"{AUTH_HELP} ({err})")
    except ChatwootTransientError as err:
        _retry(run, err)
    except ChatwootNotFound as err:
        routing = any(part in err.path for part in ("/teams", "/assignments", "/agents"))
        where = (
            "os times e agentes das regras de roteamento"
            if routing
            else "CHATWOOT_ACCOUNT_ID e CHATWOOT_INBOX_ID (`python manage.py check_chatwoot`)"
        )
        _fail(run, f"{err}. Confira {where}.")
    except (ChatwootPermanentError, steps.HandoffImpossible) as err:
        _fail(run, str(err))
    except Exception as err:
        # A bug must not lose the lead: log it, retry with backoff, dead-letter after the last attempt.
        logger.exception("handoff %s: unexpected error in step %s", handoff_id, run.step)
        _retry(run, err)
    return run.handoff.state


def _step_with_retries(step, run: HandoffRun, client) -> None:
    """A transient failure (timeout, reset, 5xx) is retried here, a few times after a short jittered pause, by
    running the step again: its recognition finds what a lost answer left behind, so nothing is written twice.
    A pause everyone takes (a 429, an outage), if short, is waited out here too, then the step runs again.
    """
    for retry in range(settings.HANDOFF_STEP_RETRIES + 1):
        last = retry == settings.HANDOFF_STEP_RETRIES
        try:
            step(run, client)
            return
        except ChatwootTransientError as err:
            if err.ambiguous:
                run.contact = run.conversations = None
            if last:
                raise
            time.sleep(random.uniform(0.5, 1.0) * settings.HANDOFF_STEP_RETRY_SECONDS * 2 ** min(retry, 3))
        except throttle.ChatwootDeferred as deferred:
            # Run again at once: the step's next call waits a short pause out in the throttle (throttle_waiting).
            if last or (deferred.until - timezone.now()).total_seconds() > throttle.SHORT_PAUSE_SECONDS:
                raise


def _throttle_wait_seconds() -> float:
    """How long an attempt may wait for Chatwoot's budget: inside the task timeout, with room for the calls."""
    return min(settings.CHATWOOT_THROTTLE_MAX_WAIT_SECONDS, settings.Q_CLUSTER["timeout"] / 3)


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter, between one second and the cap."""
    ceiling = min(settings.HANDOFF_RETRY_CAP_SECONDS, settings.HANDOFF_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return max(1.0, random.uniform(0, ceiling))


def _claim(handoff_id, token: uuid.UUID) -> bool:
    """Take the lease with one conditional UPDATE: of two workers, exactly one succeeds."""
    now = timezone.now()
    return bool(
        Handoff.objects.filter(pk=handoff_id)
        .claimable(now)
        .update(
            state=Handoff.State.IN_PROGRESS,
            claim_token=token,
            lease_expires_at=now + timedelta(seconds=settings.HANDOFF_LEASE_SECONDS),
            attempts=F("attempts") + 1,
            history_until=Coalesce(F("history_until"), Value(now)),
            updated_at=now,
        )
    )


def _retry(run: HandoffRun, err: Exception) -> None:
    handoff = run.handoff
    if handoff.attempts >= settings.HANDOFF_MAX_ATTEMPTS:
        _fail(run, f"Desistimos após {handoff.attempts} tentativas. Último erro: {err}")
        return
    when = timezone.now() + timedelta(seconds=retry_delay(handoff.attempts))
    _requeue(run, when, str(err), count_attempt=True)


def _requeue(run: HandoffRun, when, error: str, *, count_attempt: bool) -> None:
    fields = {"state": Handoff.State.QUEUED, "next_attempt_at": when, "claim_token": None, "lease_expires_at": None}
    if count_attempt:
        fields["last_error"] = error[:2000]
    else:
        fields["attempts"] = F("attempts") - 1
    if _settle(run, **fields):
        kind, verb = (Kind.RETRY, "Nova tentativa") if count_attempt else (Kind.DEFERRED, "Adiada")
        local = timezone.localtime(when)
        handoff_event(run.handoff, kind, f"{verb} às {local:%H:%M:%S} (etapa {run.step}): {error}"[:2000])


def _fail(run: HandoffRun, reason: str) -> None:
    fields = {"state": Handoff.State.FAILED, "last_error": reason[:2000], "finished_at": timezone.now()}
    with transaction.atomic():  # the failure, its timeline row and its events for subscribers together
        if _settle(run, **fields, claim_token=None, lease_expires_at=None):
            logger.warning("handoff %s failed in step %s", run.handoff.pk, run.step)
            handoff_event(run.handoff, Kind.FAILED, f"Falhou (etapa {run.step}): {reason}"[:2000])
            for name, value in {**fields, "claim_token": None, "lease_expires_at": None}.items():
                setattr(run.handoff, name, value)
            handoff_ended_emit(run.handoff, lead=run.handoff.lead, reason=reason)


def _settle(run: HandoffRun, **fields) -> bool:
    fields = {**run.unsaved, **fields}
    return bool(Handoff.objects.held(run.handoff.pk, run.token).update(**fields, updated_at=timezone.now()))
