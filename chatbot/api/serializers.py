"""What the API reads and writes. Output fields match the webhook payloads (integrations.payloads)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from chatbot.conversations import outcomes, protocol, services
from chatbot.conversations.models import Conversation, Message
from chatbot.integrations.models import WebhookDelivery, WebhookSubscription
from chatbot.knowledge.models import Article

METRICS_DEFAULT_DAYS = 30
METRICS_MAX_DAYS = 366


class ConversationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = [
            "id",
            "shopper_id",
            "verified_identity",
            "state",
            "outcome",
            "csat",
            "created",
            "last_activity",
        ]
        read_only_fields = fields


class ConversationCreateSerializer(serializers.Serializer):
    shopper_id = serializers.RegexField(
        services.SHOPPER_ID, help_text="8-64 characters of A-Z a-z 0-9 _ -."
    )
    customer_id = serializers.CharField(
        required=False, max_length=254, help_text="The store's id of a signed-in customer."
    )
    customer_signature = serializers.CharField(
        required=False,
        max_length=128,
        help_text="t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<customer_id>'>.",
    )
    identity_token = serializers.CharField(
        required=False, max_length=4096, help_text="HS256 JWT with sub=customer id and exp."
    )


class CloseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[str(o) for o in outcomes.CLOSE_AS],
        default="resolved",
        help_text="resolved (by the bot, or by staff if it was ever escalated), resolved_bot, "
        "resolved_staff or abandoned; refused where the conversation's history contradicts it.",
        # The reason names the choices, never echoes the input (which may not even be encodable).
        error_messages={
            "invalid_choice": "must be one of: " + ", ".join(str(o) for o in outcomes.CLOSE_AS)
        },
    )
    csat = serializers.IntegerField(required=False, min_value=1, max_value=5, allow_null=True)


class MessageSerializer(serializers.ModelSerializer):
    client_msg_id = serializers.CharField(read_only=True, allow_blank=True)

    class Meta:
        model = Message
        fields = ["id", "conversation", "role", "text", "client_msg_id", "created"]
        read_only_fields = fields


class ReplySerializer(MessageSerializer):
    """A bot reply, with what producing it used."""

    class Meta(MessageSerializer.Meta):
        fields = MessageSerializer.Meta.fields + [
            "reply_id",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "shared_engine_seconds",
            "finish_reason",
        ]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=protocol.MAX_TEXT_CHARS, trim_whitespace=True)
    client_msg_id = serializers.CharField(
        required=False,
        max_length=protocol.MAX_CLIENT_MSG_ID_CHARS,
        help_text="Your id for the message: a resend with the same id is not stored twice.",
    )


class SendQuerySerializer(serializers.Serializer):
    wait = serializers.BooleanField(default=False, help_text="Answer once the reply is stored.")
    stream = serializers.BooleanField(
        default=False, help_text="Answer with server-sent events as the reply is generated."
    )
    timeout = serializers.FloatField(
        default=30, min_value=1, help_text="Seconds to wait for the reply (wait and stream)."
    )

    def validate_timeout(self, value):
        if value > settings.API_REPLY_TIMEOUT_MAX:
            raise serializers.ValidationError(
                f"Ensure this value is at most {settings.API_REPLY_TIMEOUT_MAX}."
            )
        return value


class SentSerializer(serializers.Serializer):
    """The answer to posting a message."""

    message = MessageSerializer()
    duplicate = serializers.BooleanField(help_text="True when client_msg_id was already stored.")
    reply = ReplySerializer(allow_null=True)
    state = serializers.CharField(help_text="The conversation's state.")
    timed_out = serializers.BooleanField()


class TranscriptSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    messages = MessageSerializer(many=True)


class DateRangeSerializer(serializers.Serializer):
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after > before:
            raise serializers.ValidationError(
                {"created_before": "Must not be earlier than created_after."}
            )
        return attrs


class ConversationFilterSerializer(DateRangeSerializer):
    state = serializers.ChoiceField(choices=Conversation.State.choices, required=False)
    shopper_id = serializers.CharField(required=False, max_length=64)
    verified_identity = serializers.CharField(required=False, max_length=254)


class ArticleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title", "body", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]

    def validate_title(self, value):
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        taken = Article.objects.filter(store=self.context["store"], title=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("An article with this title already exists.")
        return value


class ImportSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["markdown", "csv", "json"],
        required=False,
        help_text="Guessed from the file name when a file is uploaded.",
    )
    content = serializers.CharField(
        required=False, trim_whitespace=False, help_text="The document, when not uploading a file."
    )
    file = serializers.FileField(required=False, help_text="A .md, .csv or .json file.")


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    articles = ArticleSerializer(many=True)


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (UTC); default 29 days ago.")
    end = serializers.DateField(required=False, help_text="Last day, included; default today.")

    def validate(self, attrs):
        end = attrs.get("end") or timezone.localdate()
        start = attrs.get("start") or end - timedelta(days=METRICS_DEFAULT_DAYS - 1)
        if end < start:
            raise serializers.ValidationError({"end": "Must not be before start."})
        if (end - start).days >= METRICS_MAX_DAYS:
            raise serializers.ValidationError({"end": f"At most {METRICS_MAX_DAYS} days."})
        return {"start": start, "end": end}


def _share(help_text):
    return serializers.FloatField(allow_null=True, help_text=help_text)


class FiguresSerializer(serializers.Serializer):
    """The dashboard's report figures (chatbot.reports.metrics); None where undefined."""

    dialogues = serializers.IntegerField(help_text="Conversations with a shopper message.")
    replies = serializers.IntegerField()
    resolved_by_bot = serializers.IntegerField()
    resolved_by_staff = serializers.IntegerField()
    escalated = serializers.IntegerField(help_text="Ever handed to a person.")
    abandoned = serializers.IntegerField()
    cost = serializers.FloatField(help_text="Engine time billed at the store's hourly price.")
    cost_per_reply = _share("cost / replies")
    cost_per_dialogue = _share("cost / dialogues")
    cost_per_resolution = _share("cost / dialogues resolved by the bot")
    bot_resolution_rate = _share("Resolution rate: resolved by the bot / dialogues (0-1).")
    escalation_rate = _share("escalated / dialogues (0-1)")
    csat = _share("Mean rating, 1-5.")
    csat_responses = serializers.IntegerField()
    first_response_p50 = _share("Seconds to the first answer, median.")
    first_response_p95 = _share("Seconds to the first answer, 95th percentile.")
    tokens_per_dialogue = serializers.FloatField(allow_null=True)
    prompt_tokens = serializers.IntegerField()
    cached_prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()


class DayFiguresSerializer(FiguresSerializer):
    day = serializers.DateField()


class MetricsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    totals = FiguresSerializer()
    days = DayFiguresSerializer(many=True)


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookSubscription.Event.choices),
        allow_empty=False,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "description", "active", "created"]
        read_only_fields = ["id", "created"]

    def validate_url(self, value):
        if not value.lower().startswith(("https://", "http://")):
            raise serializers.ValidationError("Use an http or https URL.")
        return value

    def validate_events(self, value):
        return sorted(set(value))


class WebhookCreatedSerializer(WebhookSerializer):
    """Only the answer to creating a subscription carries its signing secret."""

    class Meta(WebhookSerializer.Meta):
        fields = WebhookSerializer.Meta.fields + ["secret"]
        read_only_fields = WebhookSerializer.Meta.read_only_fields + ["secret"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "attempt_log",
            "next_attempt_at",
            "created",
            "delivered",
        ]
        read_only_fields = fields
