from django import forms
from django.contrib import admin, messages
from django.db import models

from .models import StoreIntegration, WebhookDelivery, WebhookSubscription

# Addresses typed without a scheme are taken as https.
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


def https_urls(field, **kwargs):
    return field.formfield(**URL_FIELDS.get(type(field), {}), **kwargs)


class StoreIntegrationForm(forms.ModelForm):
    class Meta:
        model = StoreIntegration
        formfield_callback = https_urls
        fields = [
            "store",
            "identity_secret",
            "verification_required",
            "order_status_url",
            "order_auth",
            "order_auth_username",
            "order_auth_header",
            "order_auth_secret",
            "order_timeout_seconds",
        ]
        # Credentials are not echoed back into the page.
        widgets = {
            "identity_secret": forms.PasswordInput(render_value=True),
            "order_auth_secret": forms.PasswordInput(render_value=True),
        }


@admin.register(StoreIntegration)
class StoreIntegrationAdmin(admin.ModelAdmin):
    form = StoreIntegrationForm
    formfield_overrides = URL_FIELDS
    list_display = ["store", "verification_required", "order_status_url", "order_auth"]
    list_filter = ["verification_required", "order_auth"]
    search_fields = ["store__name", "store__slug"]
    fieldsets = [
        (None, {"fields": ["store"]}),
        ("Shopper identity", {"fields": ["identity_secret", "verification_required"]}),
        (
            "Order status endpoint",
            {
                "fields": [
                    "order_status_url",
                    "order_auth",
                    "order_auth_username",
                    "order_auth_header",
                    "order_auth_secret",
                    "order_timeout_seconds",
                ]
            },
        ),
    ]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["url", "store", "active", "created"]
    list_filter = ["active", "store"]
    search_fields = ["url", "description"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(
                request,
                f"Signing secret for {obj.url}: {obj.secret} — verify deliveries with it.",
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "subscription", "status", "attempts", "created", "delivered"]
    list_filter = ["status", "event", "subscription__store"]
    search_fields = ["=event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False
