"""Forms of the staff pages: store settings (admins), support hours, canned responses, messages."""

from django import forms

from chatbot.conversations import protocol
from chatbot.stores.models import CannedResponse, Store, SupportHours

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class StoreSettingsForm(forms.ModelForm):
    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One page origin per line, e.g. https://shop.example.com",
    )

    class Meta:
        model = Store
        fields = ["name", "system_prompt", "hourly_price", "currency", "allowed_origins"]
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 6})}
        labels = {"system_prompt": "Persona", "hourly_price": "Hourly price of the inference host"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["allowed_origins"] = "\n".join(self.instance.allowed_origins or [])

    def clean_allowed_origins(self) -> list[str]:
        origins = []
        for line in self.cleaned_data["allowed_origins"].splitlines():
            origin = line.strip().rstrip("/")
            if not origin:
                continue
            if not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]:
                raise forms.ValidationError(f"{origin!r} is not an origin like https://host[:port]")
            origins.append(origin)
        return origins

    def clean_hourly_price(self):
        price = self.cleaned_data["hourly_price"]
        if price < 0:
            raise forms.ValidationError("The price cannot be negative.")
        return price


class SupportHoursForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = SupportHours
        fields = ["weekdays", "opens", "closes", "time_zone"]
        widgets = {
            "opens": forms.TimeInput(attrs={"type": "time"}),
            "closes": forms.TimeInput(attrs={"type": "time"}),
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("opens") and cleaned.get("closes") and cleaned["opens"] >= cleaned["closes"]:
            raise forms.ValidationError("Support hours must close after they open.")
        return cleaned


class CannedResponseForm(forms.ModelForm):
    class Meta:
        model = CannedResponse
        fields = ["title", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


class StaffMessageForm(forms.Form):
    text = forms.CharField(max_length=protocol.MAX_TEXT_CHARS, widget=forms.Textarea)
