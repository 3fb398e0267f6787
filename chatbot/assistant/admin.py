from django.contrib import admin

from .models import AssistantSettings, ReplyTrace, RetrievedPassage


@admin.register(AssistantSettings)
class AssistantSettingsAdmin(admin.ModelAdmin):
    list_display = ["store", "redact_transcripts"]


class RetrievedPassageInline(admin.TabularInline):
    model = RetrievedPassage
    fields = ["rank", "label", "score", "cited", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ReplyTrace)
class ReplyTraceAdmin(admin.ModelAdmin):
    list_display = ["message", "route", "reason", "intent", "quoted", "model_text_rejected"]
    list_filter = ["route", "reason"]
    inlines = [RetrievedPassageInline]
