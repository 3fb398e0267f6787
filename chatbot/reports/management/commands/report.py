"""`manage.py report --days 7 [--store SLUG] [--json]`: the report figures on the command line."""

import json

from django.core.management.base import BaseCommand, CommandError

from chatbot.reports import metrics
from chatbot.stores.models import Store

RATES = {"bot_resolution_rate", "escalation_rate"}


class Command(BaseCommand):
    help = "Cost per dialogue and resolution, resolution and escalation rates, CSAT, latency."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="the last N days, today included")
        parser.add_argument("--store", action="append", help="a store slug (repeatable)")
        parser.add_argument("--json", action="store_true", help="one JSON line")

    def handle(self, *args, days, store, **options):
        if days < 1:
            raise CommandError("--days must be at least 1")
        stores = None
        if store:
            stores = list(Store.objects.filter(slug__in=store))
            missing = set(store) - {s.slug for s in stores}
            if missing:
                raise CommandError(f"unknown store: {', '.join(sorted(missing))}")
        start, end = metrics.last_days(days)
        result = metrics.report(start, end, stores)
        line = {"start": result["start"], "end": result["end"], "currency": result["currency"]}
        line.update(result["totals"])
        if options["json"]:
            self.stdout.write(json.dumps(line, separators=(",", ":")))
            return
        self.stdout.write(f"{line['start']} .. {line['end']} ({line['currency'] or 'mixed'})")
        for key, value in result["totals"].items():
            self.stdout.write(f"  {key:<22} {_human(key, value)}")


def _human(key: str, value) -> str:
    if value is None:
        return "-"
    if key in RATES:
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
