"""The reports page: the metrics of the user's stores as charts, per day and per store."""

from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse_lazy

from chatbot.dashboard import access

from . import metrics

DEFAULT_DAYS = 14
MAX_DAYS = 366


class RangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    store = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, stores, data=None):
        super().__init__(data)
        self.fields["store"].choices = [("", "All my stores"), *stores.values_list("pk", "name")]

    def clean(self):
        cleaned = super().clean()
        default_end = metrics.last_days(DEFAULT_DAYS)[1]
        end = cleaned.get("end") or default_end
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The range ends before it starts.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"Ranges are limited to {MAX_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


@login_required(login_url=reverse_lazy("dashboard:login"))
def reports_page(request):
    stores = access.stores_for(request.user).order_by("name")
    form = RangeForm(stores, request.GET)
    if form.is_valid():
        start, end, chosen = (form.cleaned_data[k] for k in ("start", "end", "store"))
        form.data = form.data.copy()  # the date fields show the range in force
        form.data["start"], form.data["end"] = start.isoformat(), end.isoformat()
    else:
        (start, end), chosen = metrics.last_days(DEFAULT_DAYS), None
    scope = stores.filter(pk=chosen) if chosen else stores
    result = metrics.report(start, end, scope)
    currency = result["currency"] or ""
    return render(
        request,
        "reports/reports.html",
        {
            "form": form,
            "report": result,
            "tiles": tiles(result["totals"], currency),
            "store_rows": [store_row(row) for row in result["stores"]],
            "api_cost": _money(result["api_completions"]["cost"], currency),
        },
    )


def _money(value, currency: str) -> str:
    """Cents for large amounts, three significant digits for the fractions of a cent replies cost."""
    if value is None:
        return "—"
    amount = f"{value:,.2f}" if value >= 1 else f"{value:.3g}"
    return f"{amount} {currency}".strip()


def _share(value) -> str:
    return "—" if value is None else f"{value:.0%}"


def _number(value, digits: int = 1, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def tiles(totals: dict, currency: str) -> list[tuple[str, str]]:
    return [
        ("Dialogues", str(totals["dialogues"])),
        ("Total cost", _money(totals["cost"], currency)),
        ("Cost per dialogue", _money(totals["cost_per_dialogue"], currency)),
        ("Cost per resolution", _money(totals["cost_per_resolution"], currency)),
        ("Bot resolution rate", _share(totals["bot_resolution_rate"])),
        ("Escalation rate", _share(totals["escalation_rate"])),
        ("CSAT", _number(totals["csat"], 2) + f" ({totals['csat_responses']})"),
        ("First response p50", _number(totals["first_response_p50"], 2, " s")),
        ("First response p95", _number(totals["first_response_p95"], 2, " s")),
        ("Tokens per dialogue", _number(totals["tokens_per_dialogue"], 0)),
    ]


def store_row(row: dict) -> list[str]:
    return [
        row["store"],
        str(row["dialogues"]),
        _money(row["cost_per_dialogue"], row["currency"]),
        _money(row["cost_per_resolution"], row["currency"]),
        _share(row["bot_resolution_rate"]),
        _share(row["escalation_rate"]),
        _number(row["csat"], 2),
        f"{_number(row['first_response_p50'], 2)} / {_number(row['first_response_p95'], 2)} s",
        _number(row["tokens_per_dialogue"], 0),
    ]
