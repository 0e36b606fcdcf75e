"""Subscriptions (where Nexa's signed events go), and each delivery with its attempts and a redelivery action."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from handoff.admin.base import BulkOperation, ReadOnlyAdmin
from nexa.paginators import EstimatedCountPaginator
from outbound import services
from outbound.delivery import subscription_url_check
from outbound.models import Delivery, DeliveryAttempt, EventType, Subscription
from outbound.signing import secret_generate, secret_valid

REDELIVER = BulkOperation(
    "redeliver",
    lambda delivery, user: services.delivery_redeliver(delivery=delivery),
    ngettext_lazy("{count} event will be sent again.", "{count} events will be sent again.", "count"),
)


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None chosen: every event."),
    )
    secrets = forms.CharField(
        label=_("secrets"),
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
        required=False,
        help_text=_(
            "whsec_… secrets, one per line; every event is signed with each. Left empty on a new subscription, "
            "one is generated: copy it to the receiver (n8n, Atlas)."
        ),
    )

    class Meta:
        model = Subscription
        fields = ("name", "url", "event_types", "secrets", "active", "disabled_reason")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        subscription_url_check(url)
        return url

    def clean_secrets(self) -> str:
        lines = [line.strip() for line in self.cleaned_data["secrets"].splitlines() if line.strip()]
        if not lines:
            if self.instance.pk:
                raise ValidationError(_("Keep at least one secret."))
            lines = [secret_generate()]
        bad = [index + 1 for index, line in enumerate(lines) if not secret_valid(line)]
        if bad:
            raise ValidationError(_("Line %(lines)s is not a whsec_… secret.") % {"lines": ", ".join(map(str, bad))})
        return "\n".join(lines)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "url", "active", "events_shown", "disabled_reason")
    list_filter = ("active",)

    @admin.display(description=_("events"))
    def events_shown(self, subscription) -> str:
        return ", ".join(subscription.event_types) or _("all")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("created_at", "status", "duration_ms", "error", "response")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "subscription", "state", "attempts", "last_status", "last_error")
    list_filter = ("state", "subscription", "event__type")
    list_select_related = ("event", "subscription")
    search_fields = ("=lead_id",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ("redeliver",)
    inlines = (AttemptInline,)
    fields = ("event_type", "subscription", "state", "attempts", "next_attempt_at", "retry_until", "body")
    readonly_fields = fields

    @admin.display(description=_("event"), ordering="event__type")
    def event_type(self, delivery) -> str:
        return delivery.event.type

    @admin.display(description=_("body"))
    def body(self, delivery) -> str:
        return delivery.event.body

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm("outbound.redeliver_delivery")

    redeliver = REDELIVER.action(
        _("Send again"), title=_("Send again"), question=_("Send these events again, with their first webhook-id?")
    )
