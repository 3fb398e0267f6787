from django import forms
from django.contrib import admin, messages
from django.db import models
from django.urls import reverse

from chatbot.shown_once import secret_page

from .models import StoreIntegration, WebhookDelivery, WebhookSubscription, new_identity_secret

# Addresses typed without a scheme are taken as https.
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


def https_urls(field, **kwargs):
    return field.formfield(**URL_FIELDS.get(type(field), {}), **kwargs)


SECRETS = ["identity_secret", "order_auth_secret"]


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
        # Stored secrets are never rendered back into the page: blank keeps the stored one.
        widgets = {name: forms.PasswordInput() for name in SECRETS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRETS:
            field = self.fields[name]
            field.required = False
            field.show_hidden_initial = False  # a callable default would echo it in a hidden input
            if getattr(self.instance, name):
                field.help_text = f"Stored (not shown); leave blank to keep it. {field.help_text}"

    def clean(self):
        cleaned = super().clean()
        for name in SECRETS:
            if not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name)  # on add: the generated default
        return cleaned


@admin.register(StoreIntegration)
class StoreIntegrationAdmin(admin.ModelAdmin):
    form = StoreIntegrationForm
    formfield_overrides = URL_FIELDS
    list_display = ["store", "verification_required", "order_status_url", "order_auth"]
    list_filter = ["verification_required", "order_auth"]
    search_fields = ["store__name", "store__slug"]
    actions = ["rotate_identity_secret"]
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

    def response_add(self, request, obj, post_url_continue=None):
        return self._identity_secret_page(request, obj)

    @admin.action(description="Rotate the identity secret (shows the new one once)")
    def rotate_identity_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Rotate one store's secret at a time.", messages.ERROR)
            return None
        integration = queryset.get()
        integration.identity_secret = new_identity_secret()
        integration.save(update_fields=["identity_secret"])
        return self._identity_secret_page(request, integration)

    def _identity_secret_page(self, request, integration):
        return secret_page(
            request,
            title=f"Identity secret of {integration.store}",
            secret=integration.identity_secret,
            usage="Your back end signs shopper ids with it (HMAC-SHA256 or an HS256 JWT).",
            back_url=reverse("admin:integrations_storeintegration_changelist"),
        )


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["url", "store", "active", "created"]
    list_filter = ["active", "store"]
    search_fields = ["url", "description"]

    def response_add(self, request, obj, post_url_continue=None):
        return secret_page(
            request,
            title=f"Signing secret for {obj.url}",
            secret=obj.secret,
            usage="Verify the signature of each delivery with it.",
            back_url=reverse("admin:integrations_webhooksubscription_changelist"),
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "subscription", "status", "attempts", "created", "delivered"]
    list_filter = ["status", "event", "subscription__store"]
    search_fields = ["=event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False
