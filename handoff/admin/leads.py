"""Admin for handoffs: the lead actions agents use, the handoff timeline, the audit of Chatwoot calls, routing rules."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_q import admin as django_q_admin
from django_q.models import Failure, Success

from handoff import services
from handoff.chatwoot import ChatwootConfigurationError, ChatwootError
from handoff.models import ChatwootCall, Handoff, HandoffEvent, RoutingRule, WebhookDelivery
from leads.admin import LeadAdmin
from leads.models import Lead
from nexa.paginators import EstimatedCountPaginator


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
        except (services.HandoffRefused, ChatwootError, ChatwootConfigurationError) as err:
            modeladmin.message_user(request, f"{item}: {err}", messages.WARNING)
    if count:
        modeladmin.message_user(request, done.format(count=count), messages.SUCCESS)


@dataclass(frozen=True)
class BulkOperation:
    """What a confirmed admin action does to each selected object: the permission it needs, the service, the report."""

    permission: str
    run: Callable[[Any, Any], object]  # (object, the acting user)
    done: str  # the success message, with {count}

    def action(self, description: str, *, title: str, question: str, pick: Callable[[Any], Any] | None = None):
        """The admin action: confirm first, then `run` on each selected object, or on what `pick` finds for it."""
        operation = self

        @admin.action(description=description, permissions=[self.permission])
        def action(modeladmin, request, queryset):
            page = confirmed(modeladmin, request, queryset, title=title, question=question)
            if page:
                return page
            items = queryset if pick is None else [found for found in map(pick, queryset) if found]
            apply_each(modeladmin, request, items, lambda item: operation.run(item, request.user), operation.done)
            return None

        return action


HANDOFF_TRIGGER = BulkOperation(
    "trigger_handoff",
    lambda lead, user: services.handoff_trigger_admin(lead=lead, user=user),
    "{count} transferência(s) na fila.",
)
HANDOFF_RETRY = BulkOperation(
    "retry_handoff",
    lambda handoff, user: services.handoff_retry(handoff=handoff, user=user),
    "{count} transferência(s) de volta à fila.",
)
HANDOFF_CANCEL = BulkOperation(
    "cancel_handoff",
    lambda handoff, user: services.handoff_cancel(handoff=handoff, user=user),
    "{count} transferência(s) cancelada(s).",
)
WEBHOOK_REPROCESS = BulkOperation(
    "reprocess",
    lambda delivery, user: services.webhook_reprocess(delivery=delivery),
    "{count} entrega(s) reprocessada(s).",
)


def chosen_id(value: str | None) -> int | None:
    """An agent or team picked in the reassign form; blank keeps the current one. ValueError if not an id."""
    if not value:
        return None
    chosen = int(value)
    if chosen <= 0:
        raise ValueError(value)
    return chosen


def latest_handoff(lead: Lead, states=None) -> Handoff | None:
    handoffs = lead.handoffs.order_by("-created_at")
    return (handoffs.filter(state__in=states) if states else handoffs).first()


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


admin.site.unregister(Lead)


@admin.register(Lead)
class LeadHandoffAdmin(HandoffPermissions, LeadAdmin):
    actions = (*LeadAdmin.actions, "handoff_now", "handoff_retry", "handoff_reassign", "handoff_cancel")
    readonly_fields = (*LeadAdmin.readonly_fields, "handoff_timeline")
    fieldsets = (*LeadAdmin.fieldsets, ("Chatwoot", {"fields": ("handoff_timeline",)}))

    handoff_now = HANDOFF_TRIGGER.action(
        "Transferir para o Chatwoot agora",
        title="Transferir agora",
        question="Transferir estes leads agora, mesmo abaixo da nota mínima?",
    )

    handoff_retry = HANDOFF_RETRY.action(
        "Repetir transferência que falhou",
        title="Repetir transferência",
        question="Repetir a última transferência que falhou destes leads? Ela continua de onde parou.",
        pick=lambda lead: latest_handoff(lead, [Handoff.State.FAILED]),
    )

    @admin.action(description="Reatribuir no Chatwoot…", permissions=["reassign_handoff"])
    def handoff_reassign(self, request, queryset):
        if request.POST.get("post") != "yes":
            return self.reassign_page(request, queryset)
        try:
            agent_id, team_id = chosen_id(request.POST.get("agent_id")), chosen_id(request.POST.get("team_id"))
        except ValueError:
            return self.reassign_page(request, queryset, error="Escolha o agente e o time na lista.")
        done = [h for h in (latest_handoff(lead, [Handoff.State.DONE]) for lead in queryset) if h]
        apply_each(
            self,
            request,
            done,
            lambda h: services.handoff_reassign(handoff=h, user=request.user, agent_id=agent_id, team_id=team_id),
            "{count} conversa(s) reatribuída(s).",
        )
        return None

    def reassign_page(self, request, queryset, error: str = ""):
        """The form listing Chatwoot's agents and teams, fetched live; again with the error after a bad choice."""
        try:
            agents, teams = services.reassign_choices()
        except (ChatwootError, ChatwootConfigurationError) as err:
            self.message_user(request, f"Não foi possível listar agentes do Chatwoot: {err}", messages.ERROR)
            return None
        return confirmation_page(
            self,
            request,
            queryset,
            title="Reatribuir no Chatwoot",
            question="Para quem vão estes leads?",
            extra={"agents": agents, "teams": teams, "reassign": True, "error": error},
        )

    handoff_cancel = HANDOFF_CANCEL.action(
        "Cancelar transferência",
        title="Cancelar transferência",
        question="Cancelar a transferência em andamento destes leads?",
        pick=lambda lead: latest_handoff(lead, Handoff.ACTIVE_STATES),
    )

    @admin.display(description="transferências")
    def handoff_timeline(self, lead: Lead) -> str:
        handoffs = list(lead.handoffs.order_by("-created_at").prefetch_related("events")[:5]) if lead.pk else []
        if not handoffs:
            return "Nenhuma transferência."
        return format_html_join("", "{}", ((handoff_card(handoff),) for handoff in handoffs))


def handoff_card(handoff: Handoff) -> str:
    link = (
        format_html(' · <a href="{}" target="_blank" rel="noopener">abrir no Chatwoot</a>', handoff.conversation_url)
        if handoff.conversation_url
        else ""
    )
    routing = handoff.routing or {}
    decision = (
        format_html(
            "<div>Roteamento: {} — {} {}</div>",
            routing.get("rule", ""),
            routing.get("reason", ""),
            f"(candidatos: {', '.join(c['name'] for c in routing.get('candidates', []))})"
            if routing.get("candidates")
            else "",
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
        '<div style="margin-bottom:1em"><strong>{}</strong> · {} · tentativas: {} · agente: {}{}{}<ul>{}</ul></div>',
        handoff.get_state_display(),
        handoff.get_trigger_display(),
        handoff.attempts,
        handoff.assignee_name or "—",
        link,
        decision,
        events,
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: browsable, never added or edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HandoffEventInline(admin.TabularInline):
    model = HandoffEvent
    fields = ("created_at", "kind", "message")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


class ChatwootCallInline(admin.TabularInline):
    model = ChatwootCall
    fields = ("created_at", "step", "method", "path", "status", "duration_ms", "error_class")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("created_at", "id")


@admin.register(Handoff)
class HandoffAdmin(HandoffPermissions, ReadOnlyAdmin):
    list_display = ("lead", "state", "trigger", "attempts", "next_attempt_at", "assignee_name", "created_at")
    list_filter = ("state", "trigger")
    list_select_related = ("lead",)
    search_fields = ("lead__name", "lead__phone", "assignee_name")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ("retry", "cancel")
    inlines = (HandoffEventInline, ChatwootCallInline)
    readonly_fields = [field.name for field in Handoff._meta.fields]

    retry = HANDOFF_RETRY.action("Repetir as que falharam", title="Repetir", question="Repetir estas transferências?")
    cancel = HANDOFF_CANCEL.action("Cancelar", title="Cancelar", question="Cancelar estas transferências?")


@admin.register(ChatwootCall)
class ChatwootCallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "handoff", "step", "method", "path", "status", "duration_ms", "error_class")
    list_filter = ("status", "method", "step", "error_class")
    list_select_related = ("handoff__lead",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in ChatwootCall._meta.fields]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "enabled", "strategy", "min_score", "max_score", "area_codes", "team_id")
    list_editable = ("position", "enabled")
    list_filter = ("enabled", "strategy")


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
        "Reprocessar", title="Reprocessar", question="Processar de novo estas entregas?"
    )


# django-q2's task admin offers "resubmit" to anyone who can see tasks; re-running a task (a handoff, a webhook) is a
# change, so it needs the change permission like every other action here.


@admin.action(description="Reenviar as tarefas selecionadas para a fila", permissions=["change"])
def resubmit_task(modeladmin, request, queryset):
    return django_q_admin.resubmit_task(modeladmin, request, queryset)


class SuccessAdmin(django_q_admin.TaskAdmin):
    actions = (resubmit_task,)


class FailureAdmin(django_q_admin.FailAdmin):
    actions = (resubmit_task,)


for model, model_admin in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
