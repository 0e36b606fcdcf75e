"""The lead admin with the handoff actions agents use and each lead's handoff timeline."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from handoff import services
from handoff.admin.base import (
    HANDOFF_CANCEL,
    HANDOFF_RETRY,
    BulkOperation,
    HandoffPermissions,
    apply_each,
    confirmation_page,
)
from handoff.models import Handoff
from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE
from leads.admin import LeadAdmin
from leads.models import Lead

HANDOFF_TRIGGER = BulkOperation(
    "trigger_handoff",
    lambda lead, user: services.handoff_trigger_admin(lead=lead, user=user),
    "{count} transferência(s) na fila.",
)


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

    handoff_now = HANDOFF_TRIGGER.action(
        "Transferir para o Chatwoot agora",
        title="Transferir agora",
        question="Transferir estes leads agora, mesmo abaixo da nota mínima?",
    )

    handoff_retry = HANDOFF_RETRY.action(
        "Repetir transferência que falhou",
        title="Repetir transferência",
        question="Repetir a última transferência que falhou destes leads? Ela continua de onde parou.",
        pick=lambda lead: Handoff.objects.filter(state=Handoff.State.FAILED).latest_for(lead),
    )

    @admin.action(description="Reatribuir no Chatwoot…", permissions=["reassign_handoff"])
    def handoff_reassign(self, request, queryset):
        if request.POST.get("post") != "yes":
            return self.reassign_page(request, queryset)
        try:
            agent_id, team_id = chosen_id(request.POST.get("agent_id")), chosen_id(request.POST.get("team_id"))
        except ValueError:
            return self.reassign_page(request, queryset, error="Escolha o agente e o time na lista.")
        done_handoffs = Handoff.objects.filter(state=Handoff.State.DONE)
        done = [h for h in (done_handoffs.latest_for(lead) for lead in queryset) if h]
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
        except CHATWOOT_UNAVAILABLE as err:
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
        pick=lambda lead: Handoff.objects.active().latest_for(lead),
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
