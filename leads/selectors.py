"""Reads of leads and their transcripts."""

from datetime import datetime

from django.db.models import Q, QuerySet

from leads.models import BotConversation, Lead, Message
from leads.phones import Phone


def lead_list(*, phone: Phone | None = None, status: str | None = None) -> QuerySet[Lead]:
    leads = Lead.objects.all()
    if phone is not None:
        leads = leads.filter(phone_identity=phone.identity)
    if status:
        leads = leads.filter(status=status)
    return leads


def conversation_open(*, lead: Lead) -> BotConversation | None:
    return lead.conversations.exclude(status=BotConversation.Status.CLOSED).first()


def lead_transcript(*, lead: Lead, limit: int = 500) -> list[Message]:
    """The lead's latest messages across its bot conversations, oldest first."""
    latest = Message.objects.filter(conversation__lead=lead).order_by("-created_at", "-id")[:limit]
    return list(reversed(latest))


def transcript_after(*, lead: Lead, after: Message | datetime | None = None) -> QuerySet[Message]:
    """The lead's messages across all its conversations, oldest first; with `after`, only those after that message
    (in this order) or that time."""
    messages = Message.objects.filter(conversation__lead=lead)
    if isinstance(after, Message):
        messages = messages.filter(Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.pk))
    elif after is not None:
        messages = messages.filter(created_at__gt=after)
    return messages.order_by("created_at", "id")
