"""Reads of leads and their transcripts."""

from datetime import datetime

from django.db.models import QuerySet

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
    """The lead's messages across all its conversations, oldest first; with `after`, only those stored after that
    message (ids grow as messages are stored: one mirrored late from Chatwoot, with an older time, still comes to
    a client following the transcript), or sent after that time."""
    messages = Message.objects.filter(conversation__lead=lead)
    if isinstance(after, Message):
        messages = messages.filter(pk__gt=after.pk)
    elif after is not None:
        messages = messages.filter(created_at__gt=after)
    return messages.order_by("created_at", "id")
