"""The audit of every Chatwoot API call, on its own and inside each handoff."""

from django.contrib import admin

from handoff.admin.base import ReadOnlyAdmin
from handoff.models import ChatwootCall
from nexa.paginators import EstimatedCountPaginator


class ChatwootCallInline(admin.TabularInline):
    model = ChatwootCall
    fields = ("created_at", "step", "method", "path", "status", "duration_ms", "error_class")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("created_at", "id")


@admin.register(ChatwootCall)
class ChatwootCallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "handoff", "step", "method", "path", "status", "duration_ms", "error_class")
    list_filter = ("status", "method", "step", "error_class")
    list_select_related = ("handoff__lead",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in ChatwootCall._meta.fields]
