"""Handoffs as records: state, attempts, the event timeline and the Chatwoot calls made; retry and cancel."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from handoff.admin.base import HANDOFF_CANCEL, HANDOFF_RETRY, HandoffPermissions, ReadOnlyAdmin
from handoff.admin.calls import ChatwootCallInline
from handoff.models import Handoff, HandoffEvent
from nexa.paginators import EstimatedCountPaginator


class HandoffEventInline(admin.TabularInline):
    model = HandoffEvent
    fields = ("created_at", "kind", "message")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(Handoff)
class HandoffAdmin(HandoffPermissions, ReadOnlyAdmin):
    list_display = ("lead", "state", "trigger", "sample", "attempts", "next_attempt_at", "assignee_name", "created_at")
    list_filter = ("state", "trigger", "sample")
    list_select_related = ("lead",)
    search_fields = ("lead__name", "lead__phone", "assignee_name")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ("retry", "cancel")
    inlines = (HandoffEventInline, ChatwootCallInline)
    readonly_fields = [field.name for field in Handoff._meta.fields]

    retry = HANDOFF_RETRY.action(_("Retry the failed ones"), title=_("Retry"), question=_("Retry these handoffs?"))
    cancel = HANDOFF_CANCEL.action(_("Cancel"), title=_("Cancel"), question=_("Cancel these handoffs?"))
