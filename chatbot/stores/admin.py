from django.contrib import admin

from .models import Store


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "widget_key", "hourly_price", "currency", "created"]
    list_filter = ["currency", "created"]
    search_fields = ["name", "slug", "widget_key", "system_prompt"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created"]
