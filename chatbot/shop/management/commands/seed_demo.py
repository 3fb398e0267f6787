"""Create (or bring up to date) the demo store, its knowledge base and a staff user. Idempotent."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chatbot.knowledge.models import Article
from chatbot.shop import demo
from chatbot.stores.models import Store


class Command(BaseCommand):
    help = "Create the demo store, its knowledge base and a staff user (safe to run again)."

    def handle(self, *args, **options):
        store, created = Store.objects.get_or_create(
            slug=demo.SLUG,
            defaults={
                "name": demo.NAME,
                "system_prompt": demo.PERSONA,
                "hourly_price": demo.HOURLY_PRICE,
                "currency": "USD",
            },
        )
        missing = [o for o in demo.ORIGINS if o not in store.allowed_origins]
        if missing:
            store.allowed_origins = [*store.allowed_origins, *missing]
            store.save(update_fields=["allowed_origins"])
        for title, body in demo.ARTICLES.items():
            Article.objects.get_or_create(store=store, title=title, defaults={"body": body})
        verb = "Created" if created else "Demo store already present:"
        self.stdout.write(f"{verb} {store.name} (widget key {store.widget_key})")

        login_file = demo.login_file()
        User = get_user_model()
        if not User.objects.filter(username=demo.ADMIN_USERNAME).exists():
            password = secrets.token_urlsafe(9)
            User.objects.create_superuser(demo.ADMIN_USERNAME, "", password)
            login_file.touch(mode=0o600)
            login_file.write_text(f"{demo.ADMIN_USERNAME} / {password}\n")
            self.stdout.write(f"Staff login: {demo.ADMIN_USERNAME} / {password}")
        elif login_file.exists():
            self.stdout.write(f"Staff login: {login_file.read_text().strip()}")
        else:
            self.stdout.write(
                f"Staff user {demo.ADMIN_USERNAME} exists "
                f"(set a password with: manage.py changepassword {demo.ADMIN_USERNAME})"
            )
