from django.contrib import admin

from chatbot.conversations.models import ConversationInfo, Tag
from chatbot.stores.models import CannedResponse, SupportHours

from .models import Membership


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "store", "role"]
    list_filter = ["role", "store"]
    search_fields = ["user__username", "user__email", "store__name"]
    autocomplete_fields = ["user", "store"]


@admin.register(SupportHours)
class SupportHoursAdmin(admin.ModelAdmin):
    list_display = ["store", "weekdays", "opens", "closes", "time_zone"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "store"]
    list_filter = ["store"]
    search_fields = ["name"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "store"]
    list_filter = ["store"]
    search_fields = ["title", "text"]


@admin.register(ConversationInfo)
class ConversationInfoAdmin(admin.ModelAdmin):
    list_display = ["conversation", "assignee", "escalated_at", "escalated_by"]
    list_filter = ["escalated_by"]
    raw_id_fields = ["conversation"]
    filter_horizontal = ["tags"]
