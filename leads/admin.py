"""Admin for managers: browse leads, search by any spelling of a phone, read transcripts, export CSV."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import ShowFacets
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from leads import exports, selectors, services
from leads.forms import LeadAdminForm
from leads.models import ApiKeyAccess, ApiScope, BotConversation, Lead, Message
from leads.phones import InvalidPhone, phone_parse
from nexa.paginators import EstimatedCountPaginator


class ScoreBandFilter(admin.SimpleListFilter):
    title = _("score")
    parameter_name = "score"

    def lookups(self, request, model_admin):
        threshold = settings.HANDOFF_SCORE_THRESHOLD
        return [
            ("none", _("No score")),
            ("qualified", _("Qualified (≥ {threshold})").format(threshold=threshold)),
            ("below", _("Below {threshold}").format(threshold=threshold)),
            ("1-3", "1–3"),
            ("4-6", "4–6"),
            ("7-8", "7–8"),
            ("9-10", "9–10"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        threshold = settings.HANDOFF_SCORE_THRESHOLD
        if value == "none":
            return queryset.filter(qualification_score__isnull=True)
        if value == "qualified":
            return queryset.filter(qualification_score__gte=threshold)
        if value == "below":
            return queryset.filter(qualification_score__lt=threshold)
        if value in {"1-3", "4-6", "7-8", "9-10"}:
            low, high = (int(part) for part in value.split("-"))
            return queryset.filter(qualification_score__range=(low, high))
        return queryset


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = LeadAdminForm
    list_display = ("name", "phone_display", "qualification_score", "status", "created_at")
    list_filter = ("status", ScoreBandFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "email", "interest")
    search_help_text = _("Name, email, interest or phone in any format.")
    ordering = ("-created_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    show_facets = ShowFacets.NEVER  # facets count every filter option: a full scan per option
    paginator = EstimatedCountPaginator
    list_select_related = ()
    actions = ("export_csv",)
    readonly_fields = ("id", "created_at", "updated_at", "closed_at", "transcript")
    fieldsets = (
        (None, {"fields": ("id", "name", "phone", "email", "interest", "qualification_score", "status")}),
        (_("Atlas and Chatwoot"), {"fields": ("external_id", "chatwoot_contact_id", "chatwoot_conversation_id")}),
        (_("Dates"), {"fields": ("created_at", "updated_at", "closed_at")}),
        (_("Bot conversation"), {"fields": ("transcript",)}),
    )

    @admin.display(description=_("phone"), ordering="phone")
    def phone_display(self, lead: Lead) -> str:
        return lead.phone_formatted

    @admin.display(description=_("transcript"))
    def transcript(self, lead: Lead) -> str:
        messages = selectors.lead_transcript(lead=lead) if lead.pk else []
        if not messages:
            return _("No messages.")
        rows = format_html_join(
            "",
            '<tr><td style="white-space:nowrap">{}</td><td><strong>{}</strong></td>'
            '<td style="white-space:pre-wrap">{}</td></tr>',
            (
                (
                    timezone.localtime(message.created_at).strftime("%d/%m/%Y %H:%M"),
                    message.get_sender_display(),
                    message.content,
                )
                for message in messages
            ),
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)

    def save_model(self, request, obj, form, change):
        services.lead_admin_save(lead=obj, changed_fields=form.changed_data, user=request.user)

    def get_search_results(self, request, queryset, search_term):
        """A term that reads as a phone finds the lead by its identity, so both 9th-digit spellings match."""
        try:
            phone = phone_parse(search_term)
        except InvalidPhone:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(phone_identity=phone.identity), False

    @admin.action(description=_("Export selected to CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return exports.leads_csv_response(queryset)


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "sender", "content", "external_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ("created_at", "id")


@admin.register(BotConversation)
class BotConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "lead", "status", "messages_count", "last_message_at", "handoff_at")
    list_filter = ("status",)
    list_select_related = ("lead",)
    raw_id_fields = ("lead",)
    readonly_fields = ("started_at", "last_message_at", "messages_count", "handoff_at")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    inlines = (MessageInline,)
    search_fields = ("lead__name",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "sender", "short_content", "conversation")
    list_filter = ("sender",)
    list_select_related = ("conversation__lead",)
    raw_id_fields = ("conversation",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    ordering = ("-created_at", "-id")

    @admin.display(description=_("message"))
    def short_content(self, message: Message) -> str:
        return message.content[:80]


class ApiKeyAccessForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ApiKeyAccess
        fields = ("scopes",)


class ApiKeyAccessInline(admin.StackedInline):
    """A key's scopes; a key without this row may do everything (as every key made before scopes existed)."""

    model = ApiKeyAccess
    form = ApiKeyAccessForm
    can_delete = True
    max_num = 1
    verbose_name = _("scopes (none here: every scope)")


class ScopedAPIKeyAdmin(APIKeyModelAdmin):
    inlines = (ApiKeyAccessInline,)
    list_display = (*APIKeyModelAdmin.list_display, "scopes")

    @admin.display(description=_("scopes"))
    def scopes(self, api_key) -> str:
        access = getattr(api_key, "access", None)
        return ", ".join(access.scopes) if access else _("all")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("access")


admin.site.unregister(APIKey)
admin.site.register(APIKey, ScopedAPIKeyAdmin)
