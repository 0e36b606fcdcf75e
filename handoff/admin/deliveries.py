"""Chatwoot webhook deliveries as stored, with reprocessing."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from handoff import services
from handoff.admin.base import BulkOperation, ReadOnlyAdmin
from handoff.models import WebhookDelivery
from nexa.paginators import EstimatedCountPaginator

WEBHOOK_REPROCESS = BulkOperation(
    "reprocess",
    lambda delivery, user: services.webhook_reprocess(delivery=delivery),
    ngettext_lazy("{count} delivery reprocessed.", "{count} deliveries reprocessed.", "count"),
)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event", "state", "conversation_id", "result", "attempts")
    list_filter = ("state", "event")
    search_fields = ("delivery_id", "=conversation_id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ("reprocess",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_reprocess_permission(self, request):
        return request.user.has_perm("handoff.reprocess_webhookdelivery")

    reprocess = WEBHOOK_REPROCESS.action(
        _("Reprocess"), title=_("Reprocess"), question=_("Process these deliveries again?")
    )
