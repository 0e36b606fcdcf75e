"""Request and response shapes of the leads API."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from handoff.models import Handoff
from handoff.selectors import bot_should_reply, handoff_latest, handoff_summary
from handoff.services.inboxes import InboxesUnavailable, InboxUnknown, inbox_resolve
from leads.models import MESSAGE_MAX_CHARS, Lead, Message
from leads.phones import InvalidPhone, phone_parse
from nexa.errors import ChatwootUnavailable

HANDOFF_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "The lead's latest handoff to Chatwoot; null until one exists.",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "state": {"type": "string", "enum": list(Handoff.State.values)},
        "trigger": {"type": "string", "enum": list(Handoff.Trigger.values)},
        "sample": {"type": "boolean", "description": "Of the calibration sample (HANDOFF_CALIBRATION_SHARE)."},
        "attempts": {"type": "integer"},
        "next_attempt_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_error": {"type": "string", "nullable": True},
        "chatwoot_contact_id": {"type": "integer", "nullable": True},
        "chatwoot_conversation_id": {"type": "integer", "nullable": True},
        "chatwoot_inbox_id": {"type": "integer", "nullable": True},
        "conversation_url": {"type": "string", "nullable": True},
        "assignee": {
            "type": "object",
            "nullable": True,
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "team": {
            "type": "object",
            "nullable": True,
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "outcome": {"type": "string", "nullable": True, "enum": ["convertido", "perdido", None]},
        "deal_value": {
            "type": "string",
            "nullable": True,
            "description": 'In reais, as a decimal string ("12500.00"), from the agent\'s Chatwoot attribute.',
        },
        "loss_reason": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}
MESSAGES_PER_REQUEST = 1000
HISTORY_MESSAGES_MAX = 10_000
# A message's own time must be plausible: a year-69 date came back with São Paulo's local-mean-time offset (-03:06:28),
# which no client parses, and a future one would sort after every real message. A day covers clocks set wrong.
MESSAGE_TIME_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MESSAGE_TIME_SLACK = timedelta(days=1)


@extend_schema_field(OpenApiTypes.STR)
class PhoneField(serializers.Field):
    """Any common spelling in; a parsed `Phone` (E.164 and twin identity) out."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data):
        if not isinstance(data, (str, int)) or isinstance(data, bool):
            self.fail("invalid", message="Envie o telefone como texto.")
        try:
            return phone_parse(str(data))
        except InvalidPhone as err:
            self.fail("invalid", message=str(err))

    def to_representation(self, value):
        return value


class TextField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of quietly turning them into text."""

    default_error_messages = {"not_text": "Envie este campo como texto."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


def content_size_check(value: str) -> None:
    if len(value.encode("utf-8")) > MESSAGE_MAX_CHARS:
        raise serializers.ValidationError(f"A mensagem passa de {MESSAGE_MAX_CHARS // 1024} KB.")
    if not value.strip():
        raise serializers.ValidationError("A mensagem está vazia.")


def message_time_check(value: datetime) -> None:
    if not MESSAGE_TIME_EARLIEST <= value <= timezone.now() + MESSAGE_TIME_SLACK:
        raise serializers.ValidationError("Informe quando a mensagem foi enviada: uma data a partir de 2000, até hoje.")


class KnownFieldsMixin:
    """Refuse keys the serializer does not know, so a typo ("nome") is a 400 and not a silent no-op.

    The Atlas trigger passes context {"lenient": True}: its payload is Atlas's to extend.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict) and not self.context.get("lenient"):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Campo desconhecido."] for key in unknown})
        return super().to_internal_value(data)


class LeadFieldsSerializer(KnownFieldsMixin, serializers.Serializer):
    name = TextField(max_length=255, allow_blank=True, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True, max_length=254)
    interest = TextField(required=False, allow_blank=True, allow_null=True, max_length=500)
    qualification_score = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10)
    external_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)


class LeadUpsertSerializer(LeadFieldsSerializer):
    """An upsert only adds what it knows: null and "" mean "not sent", never "erase"."""

    phone = PhoneField()
    instance = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=100,
        help_text="The Evolution API instance the lead wrote to (as n8n receives it): its Chatwoot inbox answers.",
    )
    inbox_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Or the Chatwoot inbox (WhatsApp number) to answer from. The lead remembers it for later handoffs.",
    )

    def validate(self, attrs):
        attrs = {key: value for key, value in attrs.items() if value not in (None, "")}
        instance, inbox_id = attrs.pop("instance", ""), attrs.pop("inbox_id", None)
        if instance or inbox_id:
            try:
                attrs["chatwoot_inbox_id"] = inbox_resolve(instance=instance, inbox_id=inbox_id).pk
            except InboxUnknown as err:
                raise serializers.ValidationError({err.field: [str(err)]}) from err
            except InboxesUnavailable as err:
                raise ChatwootUnavailable() from err
        return attrs


class LeadPatchSerializer(LeadFieldsSerializer):
    """A patch sets exactly what it sends ("" clears a text field)."""

    name = TextField(max_length=255, allow_blank=True, required=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    interest = TextField(required=False, allow_blank=True, max_length=500)
    phone = PhoneField(required=False)

    def validate(self, attrs):
        if "external_id" in attrs and not attrs["external_id"]:
            raise serializers.ValidationError({"external_id": ["O id do Atlas não pode ser apagado."]})
        return attrs


class LeadFilterSerializer(serializers.Serializer):
    phone = PhoneField(required=False)
    status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)


class LeadSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text='The e-mail, or "" when the lead has none.')
    handoff = serializers.SerializerMethodField()
    bot_should_reply = serializers.SerializerMethodField(
        help_text="False while a human owns the conversation (handoff queued or with an agent): Atlas stays silent."
    )

    class Meta:
        model = Lead
        fields = (
            "id",
            "external_id",
            "phone",
            "name",
            "email",
            "interest",
            "qualification_score",
            "status",
            "chatwoot_inbox_id",
            "created_at",
            "updated_at",
            "closed_at",
            "bot_should_reply",
            "handoff",
        )
        read_only_fields = fields

    def get_bot_should_reply(self, lead: Lead) -> bool:
        return bot_should_reply(lead)

    @extend_schema_field(HANDOFF_SCHEMA)
    def get_handoff(self, lead: Lead) -> dict | None:
        return handoff_summary(handoff_latest(lead))


class LeadPageSerializer(serializers.Serializer):
    """One cursor page of leads, as LeadPagination answers it."""

    next = serializers.URLField(allow_null=True, help_text="The next page's URL; null on the last page.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page's URL; null on the first page.")
    results = LeadSerializer(many=True)


class MessageInputSerializer(KnownFieldsMixin, serializers.Serializer):
    sender = serializers.ChoiceField(choices=[Message.Sender.BOT, Message.Sender.LEAD])
    content = TextField(trim_whitespace=False, validators=[content_size_check])
    created_at = serializers.DateTimeField(required=False, allow_null=True, validators=[message_time_check])
    external_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=128)

    def validate_external_id(self, value):
        if value and value.startswith(Message.CHATWOOT_PREFIX):  # the ids of messages mirrored from Chatwoot
            raise serializers.ValidationError(f"O prefixo {Message.CHATWOOT_PREFIX} é reservado ao Chatwoot.")
        return value


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ("id", "sender", "content", "created_at", "external_id")
        read_only_fields = fields


class MessagesAddedSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Messages stored by this request.")
    ignored = serializers.IntegerField(help_text="Messages whose external_id was already known.")
    messages = MessageSerializer(many=True)


class TranscriptMessageSerializer(serializers.ModelSerializer):
    agent_name = serializers.SerializerMethodField(help_text="Who wrote it, for an agent's message; else null.")
    chatwoot_message_id = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="Chatwoot's message id, for a message that came from Chatwoot."
    )
    handoff = serializers.UUIDField(
        source="handoff_id",
        allow_null=True,
        read_only=True,
        help_text="The handoff whose Chatwoot conversation it came from; null for what Atlas sent.",
    )
    conversation = serializers.IntegerField(
        source="conversation_id", read_only=True, help_text="Nexa's bot conversation the message belongs to."
    )

    class Meta:
        model = Message
        fields = (
            "id",
            "sender",
            "content",
            "created_at",
            "agent_name",
            "chatwoot_message_id",
            "handoff",
            "conversation",
        )
        read_only_fields = fields

    def get_agent_name(self, message: Message) -> str | None:
        return message.agent_name or None if message.sender == Message.Sender.AGENT else None


class TranscriptPageSerializer(serializers.Serializer):
    """One cursor page of a transcript, as TranscriptPagination answers it."""

    next = serializers.URLField(allow_null=True, help_text="The next page's URL; null on the last page.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page's URL; null on the first page.")
    results = TranscriptMessageSerializer(many=True)


class TranscriptQuerySerializer(KnownFieldsMixin, serializers.Serializer):
    after = serializers.CharField(required=False, max_length=64)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1)

    def validate_after(self, value: str) -> Message | datetime:
        """A message id of this lead's transcript (what was stored after it), or a time (ISO 8601; without an offset,
        in TIME_ZONE)."""
        if value.isascii() and value.isdigit():
            message = Message.objects.filter(pk=int(value), conversation__lead=self.context["lead"]).first()
            if message is None:
                raise serializers.ValidationError("Nenhuma mensagem deste lead tem esse id.")
            return message
        try:
            return serializers.DateTimeField().to_internal_value(value)
        except serializers.ValidationError:
            raise serializers.ValidationError("Envie o id de uma mensagem ou um horário ISO 8601.") from None


def messages_validate(data, *, limit: int = MESSAGES_PER_REQUEST, lenient: bool = False) -> list[dict]:
    """One message or a list of them, each validated; errors are keyed by position in a list."""
    many = isinstance(data, list)
    if many and not data:
        raise serializers.ValidationError({"non_field_errors": ["Envie ao menos uma mensagem."]})
    if many and len(data) > limit:
        raise serializers.ValidationError({"non_field_errors": [f"Envie no máximo {limit} mensagens por requisição."]})
    serializer = MessageInputSerializer(data=data, many=many, context={"lenient": lenient})
    serializer.is_valid(raise_exception=True)
    rows = serializer.validated_data if many else [serializer.validated_data]
    # null means "not sent": the service fills the time and treats the message as id-less.
    return [{key: value for key, value in row.items() if value not in (None, "")} for row in rows]
