"""The account's Chatwoot inboxes, refreshed from Chatwoot: kind, WhatsApp number, instance, and whether Nexa may
hand off into each; and the integration users whose messages are the bot's."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext_lazy as _

from handoff.models import ChatwootInbox, ChatwootIntegrationUser
from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE
from handoff.services.inboxes import inboxes_refresh


@admin.register(ChatwootInbox)
class ChatwootInboxAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "kind", "phone_number", "instance", "served_display", "present", "refreshed_at")
    list_filter = ("kind", "enabled", "present")
    search_fields = ("name", "instance", "phone_number")
    fields = (
        "id",
        "name",
        "kind",
        "channel_type",
        "instance",
        "webhook_url",
        "auto_assignment",
        "phone_number",
        "enabled",
        "present",
    )
    readonly_fields = ("id", "name", "kind", "channel_type", "instance", "webhook_url", "auto_assignment", "present")
    change_list_template = "admin/handoff/chatwootinbox/change_list.html"

    @admin.display(description=_("Nexa may hand off into it"), boolean=True)
    def served_display(self, inbox: ChatwootInbox) -> bool:
        return inbox.served

    def has_add_permission(self, request):
        return False  # inboxes come from Chatwoot

    def changelist_view(self, request, extra_context=None):
        can_refresh = self.has_change_permission(request)
        return super().changelist_view(request, {**(extra_context or {}), "can_refresh": can_refresh})

    def get_urls(self):
        refresh = self.admin_site.admin_view(self.refresh_view)
        return [path("refresh/", refresh, name="handoff_chatwootinbox_refresh"), *super().get_urls()]

    def refresh_view(self, request):
        """POST: read the inboxes from Chatwoot again (GET /inboxes)."""
        if request.method != "POST" or not self.has_change_permission(request):
            return redirect("admin:handoff_chatwootinbox_changelist")
        try:
            found = inboxes_refresh()
        except CHATWOOT_UNAVAILABLE as err:
            refused = _("Could not read Chatwoot's inboxes: {error}").format(error=err)
            self.message_user(request, refused, messages.ERROR)
        else:
            self.message_user(request, _("{count} inboxes read from Chatwoot.").format(count=len(found)))
        return redirect("admin:handoff_chatwootinbox_changelist")


@admin.register(ChatwootIntegrationUser)
class ChatwootIntegrationUserAdmin(admin.ModelAdmin):
    list_display = ("user_id", "name", "confirmed", "discovered_at")
    list_editable = ("confirmed",)
    fields = ("user_id", "name", "confirmed")
