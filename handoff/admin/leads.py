"""The lead admin with the handoff actions agents use and each lead's handoff timeline."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from handoff import services
from handoff.admin.base import (
    HANDOFF_CANCEL,
    HANDOFF_RETRY,
    HandoffPermissions,
    apply_each,
    confirmation_page,
    confirmed,
)
from handoff.models import ChatwootInbox, Handoff
from handoff.outcomes import deal_value_display
from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE
from leads.admin import LeadAdmin
from leads.models import Lead

HANDOFF_QUEUED = ngettext_lazy("{count} handoff queued.", "{count} handoffs queued.", "count")


def latest_or_refused(handoffs, refusal: str):
    """A `pick`: the lead's latest of these handoffs, or a refusal said beside the lead (nothing to act on)."""

    def pick(lead: Lead) -> Handoff:
        handoff = handoffs.latest_for(lead)
        if handoff is None:
            raise services.HandoffRefused(refusal)
        return handoff

    return pick


def chosen_id(value: str | None) -> int | None:
    """An agent or team picked in the reassign form; blank keeps the current one. ValueError if not an id."""
    if not value:
        return None
    chosen = int(value)
    if chosen <= 0:
        raise ValueError(value)
    return chosen


admin.site.unregister(Lead)


@admin.register(Lead)
class LeadHandoffAdmin(HandoffPermissions, LeadAdmin):
    actions = (*LeadAdmin.actions, "handoff_now", "handoff_retry", "handoff_reassign", "handoff_cancel")
    readonly_fields = (*LeadAdmin.readonly_fields, "handoff_timeline")
    fieldsets = (*LeadAdmin.fieldsets, ("Chatwoot", {"fields": ("handoff_timeline",)}))

    @admin.action(description=_("Hand off to Chatwoot now"), permissions=["trigger_handoff"])
    def handoff_now(self, request, queryset):
        """Confirm, offering the inbox (WhatsApp number) to answer from; then queue a handoff per lead."""
        inboxes = list(ChatwootInbox.objects.served())
        page = confirmed(
            self,
            request,
            queryset,
            title=_("Hand off now"),
            question=_("Hand these leads off now, even below the minimum score?"),
            extra={"inboxes": inboxes},
        )
        if page:
            return page
        try:
            inbox_id = chosen_id(request.POST.get("inbox_id"))
            if inbox_id and inbox_id not in {inbox.pk for inbox in inboxes}:
                raise ValueError(inbox_id)
        except ValueError:
            error = _("Pick the inbox from the list.")
            extra = {"inboxes": inboxes, "error": error}
            return confirmation_page(self, request, queryset, title=_("Hand off now"), question="", extra=extra)
        apply_each(
            self,
            request,
            queryset,
            lambda lead: services.handoff_trigger_admin(lead=lead, user=request.user, inbox_id=inbox_id),
            HANDOFF_QUEUED,
        )
        return None

    handoff_retry = HANDOFF_RETRY.action(
        _("Retry failed handoff"),
        title=_("Retry handoff"),
        question=_("Retry these leads' last failed handoff? It resumes where it stopped."),
        pick=latest_or_refused(Handoff.objects.filter(state=Handoff.State.FAILED), _("no failed handoff to retry.")),
    )

    @admin.action(description=_("Reassign in Chatwoot…"), permissions=["reassign_handoff"])
    def handoff_reassign(self, request, queryset):
        if request.POST.get("post") != "yes":
            return self.reassign_page(request, queryset)
        try:
            agent_id, team_id = chosen_id(request.POST.get("agent_id")), chosen_id(request.POST.get("team_id"))
        except ValueError:
            return self.reassign_page(request, queryset, error=_("Pick the agent and the team from the list."))
        handed_off = latest_or_refused(
            Handoff.objects.filter(state=Handoff.State.DONE), _("not in a Chatwoot conversation yet.")
        )
        apply_each(
            self,
            request,
            queryset,
            lambda lead: services.handoff_reassign(
                handoff=handed_off(lead), user=request.user, agent_id=agent_id, team_id=team_id
            ),
            ngettext_lazy("{count} conversation reassigned.", "{count} conversations reassigned.", "count"),
        )
        return None

    def reassign_page(self, request, queryset, error: str = ""):
        """The form listing Chatwoot's agents and teams, fetched live; again with the error after a bad choice."""
        try:
            agents, teams = services.reassign_choices()
        except CHATWOOT_UNAVAILABLE as err:
            self.message_user(request, _("Could not list Chatwoot's agents: {error}").format(error=err), messages.ERROR)
            return None
        return confirmation_page(
            self,
            request,
            queryset,
            title=_("Reassign in Chatwoot"),
            question=_("Who should these leads go to?"),
            extra={"agents": agents, "teams": teams, "reassign": True, "error": error},
        )

    handoff_cancel = HANDOFF_CANCEL.action(
        _("Cancel handoff"),
        title=_("Cancel handoff"),
        question=_("Cancel these leads' handoff in progress?"),
        pick=latest_or_refused(Handoff.objects.active(), _("no handoff in progress to cancel.")),
    )

    @admin.display(description=_("handoffs"))
    def handoff_timeline(self, lead: Lead) -> str:
        handoffs = list(lead.handoffs.order_by("-created_at").prefetch_related("events")[:5]) if lead.pk else []
        if not handoffs:
            return _("No handoffs.")
        return format_html_join("", "{}", ((handoff_card(handoff),) for handoff in handoffs))


def handoff_card(handoff: Handoff) -> str:
    link = (
        format_html(
            ' · <a href="{}" target="_blank" rel="noopener">{}</a>', handoff.conversation_url, _("open in Chatwoot")
        )
        if handoff.conversation_url
        else ""
    )
    routing = handoff.routing or {}
    candidates = ", ".join(c["name"] for c in routing.get("candidates", []))
    decision = (
        format_html(
            "<div>{}: {} — {} {}</div>",
            _("Routing"),
            routing.get("rule", ""),
            routing.get("reason", ""),
            _("(candidates: {names})").format(names=candidates) if routing.get("candidates") else "",
        )
        if routing
        else ""
    )
    events = format_html_join(
        "",
        "<li>{} — {}</li>",
        ((f"{timezone.localtime(e.created_at):%d/%m %H:%M:%S}", e.message) for e in handoff.events.all()),
    )
    return format_html(
        '<div style="margin-bottom:1em"><strong>{}</strong> · {} · {}: {} · {}: {}{}{}{}<ul>{}</ul></div>',
        handoff.get_state_display(),
        handoff.get_trigger_display(),
        _("attempts"),
        handoff.attempts,
        _("agent"),
        handoff.assignee_name or "—",
        link,
        deal_line(handoff),
        decision,
        events,
    )


def deal_line(handoff: Handoff) -> str:
    """The outcome as the agent recorded it: the deal's value (as typed, when it could not be read) and why lost."""
    if not (handoff.deal_value_text or handoff.loss_reason):
        return ""
    value = deal_value_display(handoff.deal_value) if handoff.deal_value is not None else ""
    typed = handoff.deal_value_text if handoff.deal_value is None else ""
    return format_html(
        "<div>{}: {} · {}: {}</div>",
        _("Deal value"),
        value or (_("“{typed}” (not a value)").format(typed=typed) if typed else "—"),
        _("Loss reason"),
        handoff.loss_reason or "—",
    )
