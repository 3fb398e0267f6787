from django.contrib import admin

from .models import Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ["id", "role", "text", "created", "model", "completion_tokens", "finish_reason"]
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "store", "shopper_id", "state", "outcome", "csat", "last_activity"]
    list_filter = ["state", "store", "outcome", "csat", "created"]
    search_fields = ["=id", "shopper_id", "verified_identity", "messages__text"]
    readonly_fields = ["created", "updated", "answered_through"]
    date_hierarchy = "last_activity"
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "conversation",
        "role",
        "short_text",
        "created",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "shared_engine_seconds",
        "finish_reason",
    ]
    list_filter = ["role", "finish_reason", "model", "conversation__store", "created"]
    search_fields = ["text", "client_msg_id", "=conversation__id", "conversation__shopper_id"]
    raw_id_fields = ["conversation"]
    readonly_fields = ["created", "reply_id"]

    @admin.display(description="Text")
    def short_text(self, obj):
        return obj.text[:80]
