"""The payload Atlas Nexa's handoff trigger sends."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.serializers import HISTORY_MESSAGES_MAX, LeadSerializer, LeadUpsertSerializer, messages_validate
from leads.transcripts import TranscriptError, transcript_parse

HISTORY_SCHEMA = {
    "oneOf": [
        {"type": "string", "description": 'One speaker per line: "Bot: …\\nLead: …"'},
        {"type": "array", "items": {"$ref": "#/components/schemas/MessageInputRequest"}},
    ]
}


@extend_schema_field(HISTORY_SCHEMA)
class BotHistoryField(serializers.Field):
    """A text transcript or a list of messages, read into a list of message rows."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                pairs = transcript_parse(data)
            except TranscriptError as err:
                raise serializers.ValidationError(str(err)) from err
            data = [{"sender": sender, "content": content} for sender, content in pairs]
            if not data:
                return []
        elif not isinstance(data, list):
            raise serializers.ValidationError("Envie o histórico como texto ou como uma lista de mensagens.")
        elif not data:
            return []
        return messages_validate(data, limit=HISTORY_MESSAGES_MAX, lenient=True)

    def to_representation(self, value):
        return value


class HandoffRequestSerializer(LeadUpsertSerializer):
    id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=64, help_text="Atlas Nexa's lead id."
    )
    bot_history = BotHistoryField(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "id" in attrs:
            attrs["external_id"] = attrs.pop("id")
        return attrs


class HandoffResponseSerializer(serializers.Serializer):
    lead = LeadSerializer()
    handoff = serializers.JSONField(allow_null=True, help_text="The lead's handoff (as in `lead.handoff`), or null.")
    reason = serializers.ChoiceField(
        choices=["queued", "already_handed_off", "below_threshold"],
        help_text="queued answers 202 (also for a lead below the threshold whose handoff is under way: the calibration "
        "sample, an admin's); already_handed_off and below_threshold answer 200.",
    )
    messages_created = serializers.IntegerField()
    messages_ignored = serializers.IntegerField()
