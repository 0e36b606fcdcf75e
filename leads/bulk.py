"""Realistic bulk data for benchmarks: many leads, bot conversations and messages, inserted in batches."""

import random
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leads.calibration import calibration_drawn
from leads.models import BotConversation, Lead, Message
from leads.phones import phone_identity

SAMPLE_SHARE = 0.05  # the calibration sample of the generated leads, as with HANDOFF_CALIBRATION_SHARE=0.05
AREA_CODES = ("11", "21", "31", "41", "51", "61", "71", "81", "85", "19", "27", "48", "62", "92")
FIRST_NAMES = (
    "Ana",
    "Bruno",
    "Camila",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Henrique",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Thiago",
)
LAST_NAMES = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Barbosa",
)
INTERESTS = (
    "Energia solar residencial",
    "Usina para empresa",
    "Financiamento em 60x",
    "Sistema rural",
    "Manutenção de placas",
    "Carregador para carro elétrico",
    "Comparando orçamentos",
)
BOT_LINES = (
    "Olá! Sou a Atlas. Como posso ajudar?",
    "Qual o valor médio da sua conta de luz?",
    "O imóvel é próprio?",
    "Vou chamar um consultor para você.",
)
LEAD_LINES = ("Oi, quero um orçamento.", "Uns R$ 600 por mês.", "Sim, é próprio.", "Pode ligar depois das 18h.")
BATCH = 5000


def leads_generate(
    *,
    count: int,
    days: int = 90,
    messages_per_lead: float = 0.0,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
    with_batch: Callable[[random.Random, list[Lead]], object] | None = None,
) -> int:
    """Insert `count` leads spread over the last `days` days; returns how many were inserted.

    `with_batch` adds more rows for each batch of leads in the same transaction (the handoffs, say).
    """
    rng = random.Random(seed)
    threshold = settings.HANDOFF_SCORE_THRESHOLD
    now = timezone.now()
    offset = Lead.objects.count()
    done = 0
    for start in range(0, count, BATCH):
        leads = [
            _lead(rng, _created(rng, now, days, index, count), threshold, offset + index)
            for index in range(start, min(start + BATCH, count))
        ]
        known = set(
            Lead.objects.filter(phone_identity__in=[lead.phone_identity for lead in leads]).values_list(
                "phone_identity", flat=True
            )
        )
        leads = [lead for lead in leads if lead.phone_identity not in known]
        with transaction.atomic():
            Lead.objects.bulk_create(leads)
            if messages_per_lead:
                _conversations_create(rng, leads, messages_per_lead)
            if with_batch:
                with_batch(rng, leads)
        done += len(leads)
        if progress:
            progress(min(start + BATCH, count))
    return done


def progress_bar(total: int, write: Callable[[str], None]) -> Callable[[int], None]:
    def show(current: int) -> None:
        filled = int(30 * current / total) if total else 30
        write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {current:,}/{total:,}")

    return show


def _created(rng: random.Random, now, days: int, index: int, count: int):
    """Oldest first, as rows land in production: the tables end up in time order on disk, like a real one."""
    step = days * 86400 / count
    return now - timedelta(days=days) + timedelta(seconds=(index + rng.random()) * step)


def _lead(rng: random.Random, created, threshold: int, number: int) -> Lead:
    area = AREA_CODES[number % len(AREA_CODES)]
    local = 60_000_000 + (number // len(AREA_CODES)) % 40_000_000
    phone = f"+55{area}9{local}"
    lead = Lead(
        id=uuid.uuid4(),
        name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        phone=phone,
        phone_identity=phone_identity(phone),
        email=f"lead{number}@exemplo.com.br" if rng.random() < 0.6 else "",
        interest=rng.choice(INTERESTS),
        qualification_score=rng.choice((None, None, *range(1, 11))),
        created_at=created,
        updated_at=created,
    )
    lead.status = _status(rng, lead, threshold)
    if lead.status in Lead.CLOSED_STATUSES:
        lead.closed_at = created + timedelta(hours=rng.randrange(1, 96))
    return lead


def _status(rng: random.Random, lead: Lead, threshold: int) -> str:
    score = lead.qualification_score
    if calibration_drawn(lead, share=SAMPLE_SHARE):  # handed off as the sample: fewer of them close
        return rng.choice((Lead.Status.HANDED_OFF, Lead.Status.CONVERTIDO, Lead.Status.PERDIDO, Lead.Status.PERDIDO))
    if score is None or score < threshold:
        return Lead.Status.NOVO if rng.random() < 0.9 else Lead.Status.PERDIDO
    return rng.choice(
        # Three in five qualified leads reached Chatwoot: a fifth of all leads, as in a busy account.
        (
            Lead.Status.QUALIFICADO,
            Lead.Status.QUALIFICADO,
            Lead.Status.HANDED_OFF,
            Lead.Status.CONVERTIDO,
            Lead.Status.PERDIDO,
        )
    )


def _conversations_create(rng: random.Random, leads: list[Lead], per_lead: float) -> None:
    """Counters are known before the insert, so conversations and messages are each one bulk insert."""
    plans = []
    for lead in leads:
        count = int(per_lead) + (1 if rng.random() < per_lead % 1 else 0)
        times = [lead.created_at + timedelta(minutes=2 * turn) for turn in range(count)]
        conversation = BotConversation(
            lead=lead,
            status=_conversation_status(lead),
            started_at=lead.created_at,
            messages_count=count,
            last_message_at=times[-1] if times else None,
        )
        plans.append((conversation, times))
    conversations = BotConversation.objects.bulk_create([conversation for conversation, _ in plans])
    messages = [
        Message(
            conversation=conversation,
            sender=Message.Sender.BOT if turn % 2 else Message.Sender.LEAD,
            content=(BOT_LINES if turn % 2 else LEAD_LINES)[(turn // 2) % len(BOT_LINES)],
            created_at=sent,
        )
        for conversation, (_, times) in zip(conversations, plans, strict=True)
        for turn, sent in enumerate(times)
    ]
    Message.objects.bulk_create(messages, batch_size=BATCH)


def _conversation_status(lead: Lead) -> str:
    if lead.status == Lead.Status.HANDED_OFF:
        return BotConversation.Status.HANDED_OFF
    if lead.status in Lead.CLOSED_STATUSES:
        return BotConversation.Status.CLOSED
    return BotConversation.Status.ACTIVE
