"""`manage.py create_api_key --store <slug> --name "Shop back end" --scopes read,write`"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chatbot.api.models import ApiKey, rate_validator
from chatbot.stores.models import Store


class Command(BaseCommand):
    help = "Create an API key for a store and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="the store's slug")
        parser.add_argument("--name", required=True, help="what will use the key")
        parser.add_argument(
            "--scopes", default="read", help="comma-separated: read, write, completions"
        )
        parser.add_argument("--rate-limit", default="", help="e.g. 120/min (default: settings)")

    def handle(self, *args, store, name, scopes, rate_limit, **options):
        found = Store.objects.filter(slug=store).first()
        if found is None:
            raise CommandError(f"No store with slug {store!r}.")
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        unknown = set(wanted) - set(ApiKey.Scope.values)
        if not wanted or unknown:
            raise CommandError(f"Scopes are among {', '.join(ApiKey.Scope.values)}.")
        if rate_limit:
            try:
                rate_validator(rate_limit)
            except ValidationError as error:
                raise CommandError(error.messages[0]) from None
        api_key, full_key = ApiKey.issue(found, name, wanted, rate_limit=rate_limit)
        self.stderr.write(f"Created {api_key.prefix}… for {found} with scopes {api_key.scopes}.")
        self.stdout.write(full_key)
