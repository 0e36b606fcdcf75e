"""The metrics API's query and its answer, as documented in the OpenAPI schema."""

from django import forms
from django.utils import timezone
from rest_framework import serializers

from dashboard.forms import period_recent, period_validate
from dashboard.selectors import Period


class MetricsQuerySerializer(serializers.Serializer):
    """`from` and `to` are whole days in TIME_ZONE, both included; without them, the last 30 days."""

    team = serializers.IntegerField(required=False, min_value=1, help_text="Only this Chatwoot team's handoffs.")
    what_if = serializers.IntegerField(
        required=False, min_value=1, max_value=10, help_text="A threshold to estimate (default: the current one)."
    )

    def get_fields(self):
        # "from" is a Python keyword, so these two are declared here rather than as attributes.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, help_text="First day, YYYY-MM-DD.")
        fields["to"] = serializers.DateField(required=False, help_text="Last day, YYYY-MM-DD (included).")
        return fields

    def validate(self, data):
        first, last = data.get("from"), data.get("to")
        if first is None and last is None:
            return data
        first, last = first or last, last or timezone.localdate()
        try:
            period_validate(first, last)
        except forms.ValidationError as err:
            raise serializers.ValidationError({"from": err.messages}) from None
        return {**data, "from": first, "to": last}

    def period(self) -> Period:
        data = self.validated_data
        if "from" not in data:
            return period_recent(30, data.get("team"))
        return Period(first_day=data["from"], last_day=data["to"], team_id=data.get("team"))


# Built from a dict, because one of its keys is the Python keyword "from".
PeriodSerializer = type(
    "PeriodSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "team_id": serializers.IntegerField(allow_null=True),
    },
)


class LeadTotalsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    qualified = serializers.IntegerField(help_text="Score at or above the handoff threshold.")
    qualification_rate = serializers.FloatField(allow_null=True, help_text="qualified ÷ total; null without leads.")
    unscored = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField(), help_text="novo, qualificado, handed_off, …")
    by_score = serializers.DictField(child=serializers.IntegerField(), help_text='"1" … "10".')


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=["leads", "qualified", "handed_off", "replied", "converted"])
    label = serializers.CharField()
    count = serializers.IntegerField()
    rate_from_previous = serializers.FloatField(allow_null=True)
    rate_from_leads = serializers.FloatField(allow_null=True)


class AgentSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(allow_null=True, help_text="Chatwoot's agent id; null: nobody assigned.")
    name = serializers.CharField()
    handled = serializers.IntegerField()
    resolved = serializers.IntegerField()
    converted = serializers.IntegerField()
    lost = serializers.IntegerField()
    conversion_rate = serializers.FloatField(allow_null=True, help_text="converted ÷ resolved.")
    avg_resolution_hours = serializers.FloatField(allow_null=True, help_text="From the handoff to resolution.")
    first_reply_p50_seconds = serializers.FloatField(allow_null=True, help_text="From the handoff.")
    first_reply_p90_seconds = serializers.FloatField(allow_null=True)
    sla_met = serializers.IntegerField()
    sla_due = serializers.IntegerField(help_text="Handoffs whose first-reply target was met or has passed.")
    sla_attainment = serializers.FloatField(allow_null=True)
    escalations = serializers.IntegerField(help_text="Times a lead was taken from this agent for not answering.")


class CallFiguresSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    by_status = serializers.DictField(child=serializers.IntegerField(), help_text='"2xx", "4xx", "429", "5xx", …')


class FailureSerializer(serializers.Serializer):
    handoff_id = serializers.UUIDField()
    lead_id = serializers.UUIDField()
    lead_name = serializers.CharField()
    error = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    failed = serializers.IntegerField()
    oldest_pending = serializers.DateTimeField(allow_null=True)
    oldest_pending_age_seconds = serializers.IntegerField(allow_null=True)
    retries = serializers.IntegerField(help_text="Attempts after the first, for handoffs created in the period.")
    chatwoot_calls = CallFiguresSerializer()
    recent_failures = FailureSerializer(many=True)


class DaySerializer(serializers.Serializer):
    day = serializers.DateField()
    leads = serializers.IntegerField()
    handoffs = serializers.IntegerField()


class IntervalSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()


class ConversionFiguresSerializer(serializers.Serializer):
    leads = serializers.IntegerField(help_text="Leads created in the period with this score.")
    handed_off = serializers.IntegerField()
    resolved = serializers.IntegerField()
    converted = serializers.IntegerField()
    conversion_rate = serializers.FloatField(allow_null=True, help_text="converted ÷ resolved; null: none resolved.")
    interval = IntervalSerializer(allow_null=True, help_text="The rate's 95% Wilson interval.")
    small = serializers.BooleanField(help_text="Fewer than 20 resolved: show the counts, not a confident rate.")
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="Deal values of the converted.")
    average_deal_value = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class ScoreConversionSerializer(ConversionFiguresSerializer):
    score = serializers.IntegerField()


class BandConversionSerializer(ConversionFiguresSerializer):
    band = serializers.CharField(help_text='Scores around the threshold, e.g. "5–6".')


class WhatIfSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    estimate = serializers.BooleanField(help_text="Always true: estimated from the leads that were handed off.")
    basis = serializers.CharField()
    handoffs_per_day = serializers.FloatField(allow_null=True)
    expected_conversions = serializers.FloatField()
    expected_revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    leads_without_observed_rate = serializers.IntegerField(help_text="Leads of scores with no resolved handoff.")
    scores_from_sample = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Scores below the threshold estimated from the calibration sample's rate.",
    )


class CalibrationSerializer(serializers.Serializer):
    share = serializers.FloatField(help_text="HANDOFF_CALIBRATION_SHARE: 0 when the sample is off.")
    label = serializers.CharField(help_text="The Chatwoot label of the sample's conversations.")
    by_score = ScoreConversionSerializer(
        many=True,
        help_text="The sample's handoffs, per score: the scores it draws from, and any it drew from in the period. "
        "`leads`: every lead created with that score; the other figures are the sample's alone.",
    )


class CutConversionSerializer(serializers.Serializer):
    key = serializers.JSONField(help_text="The agent's or inbox's Chatwoot id, the area code; null for interests.")
    label = serializers.CharField()
    handed_off = serializers.IntegerField()
    resolved = serializers.IntegerField()
    converted = serializers.IntegerField()
    conversion_rate = serializers.FloatField(allow_null=True)
    interval = IntervalSerializer(allow_null=True)
    small = serializers.BooleanField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    average_deal_value = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class ConversionSerializer(serializers.Serializer):
    by_score = ScoreConversionSerializer(many=True, help_text="Handoffs other than the calibration sample's.")
    bands = BandConversionSerializer(many=True)
    calibration = CalibrationSerializer(help_text="The calibration sample, apart from every other figure.")
    what_if = WhatIfSerializer()
    agents = CutConversionSerializer(many=True)
    inboxes = CutConversionSerializer(many=True, help_text="By WhatsApp number (Chatwoot inbox).")
    area_codes = CutConversionSerializer(
        many=True, help_text='By the lead\'s area code (DDD), with its state: "11 (SP)".'
    )
    interests = CutConversionSerializer(
        many=True, help_text='By the lead\'s interest, the 10 most handed off; "outros".'
    )


class MetricsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    threshold = serializers.IntegerField()
    conversion = ConversionSerializer()
    leads = LeadTotalsSerializer()
    funnel = FunnelStepSerializer(many=True)
    agents = AgentSerializer(many=True)
    health = HealthSerializer()
    daily = DaySerializer(many=True)
