from django import forms
from django.contrib import admin, messages
from django.urls import reverse

from chatbot.shown_once import secret_page

from .models import ApiKey, CompletionUsage


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["store", "name", "scopes", "rate_limit", "revoked"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here (the full key is shown once, on the page answering the form) and
    revoked here."""

    form = ApiKeyForm
    list_display = ["prefix", "name", "store", "scopes", "created", "last_used", "revoked"]
    list_filter = ["store", "revoked"]
    search_fields = ["name", "key_id", "store__name"]
    readonly_fields = ["prefix", "created", "created_by", "last_used"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        fields = ["store", "name", "scopes", "rate_limit"]
        return (
            fields
            if obj is None
            else ["prefix", *fields, "created", "created_by", "last_used", "revoked"]
        )

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else [*self.readonly_fields, "store"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, full_key = ApiKey.issue(
            obj.store,
            obj.name,
            obj.scopes,
            rate_limit=obj.rate_limit,
            created_by=request.user,
        )
        obj.pk = api_key.pk
        obj.key_id = api_key.key_id
        obj.full_key = full_key  # for response_add only; never saved

    def response_add(self, request, obj, post_url_continue=None):
        return secret_page(
            request,
            title=f"API key {obj.prefix}… created",
            secret=obj.full_key,
            usage="Send it as `Authorization: Bearer <key>`.",
            back_url=reverse("admin:api_apikey_changelist"),
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key.revoke()
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(CompletionUsage)
class CompletionUsageAdmin(admin.ModelAdmin):
    """Read-only: rows are written by the worker that ran the completion."""

    list_display = [
        "request_id",
        "store",
        "api_key",
        "prompt_tokens",
        "completion_tokens",
        "created",
    ]
    list_filter = ["store"]
    search_fields = ["request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
