"""What the handoff admins share: confirmation first, one service call per object, read-only records, permissions."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import ngettext_lazy

from handoff import services
from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE


def confirmed(modeladmin, request, queryset, *, title: str, question: str, extra: dict | None = None):
    """None once the user confirmed; otherwise the confirmation page (Django's delete_selected pattern)."""
    if request.POST.get("post") == "yes":
        return None
    return confirmation_page(modeladmin, request, queryset, title=title, question=question, extra=extra)


def confirmation_page(modeladmin, request, queryset, *, title: str, question: str, extra: dict | None = None):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": queryset,
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        **(extra or {}),
    }
    return TemplateResponse(request, "admin/handoff/confirm_action.html", context)


def apply_each(modeladmin, request, items, operation, done: str) -> None:
    """Run an operation per item; report successes and each refusal in the admin's messages."""
    count = 0
    for item in items:
        try:
            operation(item)
            count += 1
        except (services.HandoffRefused, *CHATWOOT_UNAVAILABLE) as err:
            modeladmin.message_user(request, f"{item}: {err}", messages.WARNING)
    if count:
        modeladmin.message_user(request, done.format(count=count), messages.SUCCESS)


@dataclass(frozen=True)
class BulkOperation:
    """What a confirmed admin action does to each selected object: the permission it needs, the service, the report."""

    permission: str
    run: Callable[[Any, Any], object]  # (object, the acting user)
    done: str  # the success message, with {count}: ngettext_lazy(singular, plural, "count")

    def action(self, description: str, *, title: str, question: str, pick: Callable[[Any], Any] | None = None):
        """The admin action: confirm first, then `run` on each selected object, or on what `pick` finds for it
        (`pick` raises HandoffRefused, reported beside that object, when there is nothing to act on)."""
        operation = self

        @admin.action(description=description, permissions=[self.permission])
        def action(modeladmin, request, queryset):
            page = confirmed(modeladmin, request, queryset, title=title, question=question)
            if page:
                return page
            apply_each(
                modeladmin,
                request,
                queryset,
                lambda item: operation.run(item if pick is None else pick(item), request.user),
                operation.done,
            )
            return None

        return action


HANDOFF_RETRY = BulkOperation(
    "retry_handoff",
    lambda handoff, user: services.handoff_retry(handoff=handoff, user=user),
    ngettext_lazy("{count} handoff back in the queue.", "{count} handoffs back in the queue.", "count"),
)
HANDOFF_CANCEL = BulkOperation(
    "cancel_handoff",
    lambda handoff, user: services.handoff_cancel(handoff=handoff, user=user),
    ngettext_lazy("{count} handoff cancelled.", "{count} handoffs cancelled.", "count"),
)


class HandoffPermissions:
    """Custom action permissions live on the Handoff model; Django asks the ModelAdmin for has_<name>_permission."""

    def has_trigger_handoff_permission(self, request):
        return request.user.has_perm("handoff.trigger_handoff")

    def has_retry_handoff_permission(self, request):
        return request.user.has_perm("handoff.retry_handoff")

    def has_reassign_handoff_permission(self, request):
        return request.user.has_perm("handoff.reassign_handoff")

    def has_cancel_handoff_permission(self, request):
        return request.user.has_perm("handoff.cancel_handoff")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: browsable, never added or edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
