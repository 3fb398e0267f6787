"""What the assistant keeps beside conversations: a store's assistant settings, and for every bot
reply how it was decided and which passages were retrieved, so staff can see what it stood on."""

from django.db import models


class AssistantSettings(models.Model):
    store = models.OneToOneField(
        "stores.Store", on_delete=models.CASCADE, primary_key=True, related_name="assistant"
    )
    redact_transcripts = models.BooleanField(
        default=False,
        help_text="Replace payment card numbers, email addresses and phone numbers in stored "
        "messages with placeholders.",
    )

    class Meta:
        verbose_name_plural = "assistant settings"

    def __str__(self):
        return f"Assistant settings of {self.store}"


class ReplyTrace(models.Model):
    """How one bot reply came about."""

    class Route(models.TextChoices):
        ANSWER = "answer", "Answered from the knowledge base"
        ORDER = "order", "Answered from the order system"
        HANDOFF = "handoff", "Handed over to a person"
        REFUSAL = "refusal", "Refused (abuse or rule-breaking request)"
        SMALLTALK = "smalltalk", "Greeting or thanks"

    message = models.OneToOneField(
        "conversations.Message", on_delete=models.CASCADE, related_name="trace"
    )
    route = models.CharField(max_length=12, choices=Route.choices)
    reason = models.CharField(max_length=40, blank=True, help_text="Why this route was taken.")
    intent = models.CharField(max_length=40, blank=True)
    intent_similarity = models.FloatField(null=True, blank=True)
    quoted = models.BooleanField(
        default=False, help_text="The reply quotes the article because the model's text did not."
    )
    model_text_rejected = models.BooleanField(
        default=False,
        help_text="Some of the model's sentences were not shown: no source supported them, or "
        "they repeated its instructions.",
    )
    invented_figures = models.JSONField(default=list, blank=True)
    dropped_sentences = models.JSONField(
        default=list,
        blank=True,
        help_text="The model's sentences no source supported: never shown to the shopper.",
    )
    first_text_at = models.DateTimeField(
        null=True, blank=True, help_text="When the shopper saw the reply's first words."
    )

    def __str__(self):
        return f"{self.route} ({self.reason})" if self.reason else self.route


class RetrievedPassage(models.Model):
    """A passage retrieved for the reply, best first; `cited` marks the one it stands on (in the
    model's prompt and quoted)."""

    trace = models.ForeignKey(ReplyTrace, on_delete=models.CASCADE, related_name="passages")
    passage = models.ForeignKey(
        "knowledge.Passage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rank = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=500, help_text="Article › section, as cited.")
    text = models.TextField(help_text="The passage as it was when retrieved.")
    score = models.FloatField()
    cited = models.BooleanField(default=False)

    class Meta:
        ordering = ["trace", "rank"]

    def __str__(self):
        return self.label
