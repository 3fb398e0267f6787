"""Per-store API keys: scoped, revocable, with their last use recorded."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from . import keys

rate_validator = RegexValidator(
    r"^[1-9][0-9]{0,6}/(s|sec|second|m|min|minute|h|hour|d|day)$",
    "Write a count per period, e.g. 120/min or 5000/day.",
)


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        COMPLETIONS = "completions", "OpenAI-compatible completions"

    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'Shop back end'.")
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        validators=[rate_validator],
        help_text="Requests allowed for this key, e.g. '120/min'; blank for the default.",
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["store", "-created"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @property
    def prefix(self) -> str:
        return f"{keys.PREFIX}{self.key_id}"

    @classmethod
    def issue(cls, store, name: str, scopes: list[str], **fields) -> tuple["ApiKey", str]:
        """Create a key; returns it and the full key, which exists nowhere else afterwards."""
        key_id, full_key = keys.new_key()
        api_key = cls.objects.create(
            store=store,
            name=name,
            scopes=sorted(set(scopes)),
            key_id=key_id,
            key_digest=keys.digest(full_key),
            **fields,
        )
        return api_key, full_key

    def revoke(self) -> None:
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])


class CompletionUsage(models.Model):
    """What one OpenAI-compatible completion used, billed like a shopper reply: its share of engine
    time at the store's hourly price (``chatbot.reports.metrics``). Kept apart from dialogues, so
    cost per dialogue stays the cost of the chat."""

    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="completion_usage"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    request_id = models.CharField(max_length=64, unique=True)
    prompt_tokens = models.PositiveIntegerField()
    cached_prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField()
    engine_seconds = models.FloatField()
    shared_engine_seconds = models.FloatField()
    finish_reason = models.CharField(max_length=16)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "completion usage"

    def __str__(self):
        return f"{self.request_id} ({self.prompt_tokens}+{self.completion_tokens} tokens)"
