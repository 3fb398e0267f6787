"""A GIN index for full-text search over message texts (PostgreSQL only; SQLite has no use for it).

The expression is exactly what SearchVector("text", config="english") compiles to, so the planner
uses the index for the dashboard's searches."""

from django.db import migrations

INDEX = "dashboard_message_text_search"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON conversations_message "
            "USING GIN (to_tsvector('english'::regconfig, COALESCE(text, '')))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_initial"),
        ("conversations", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
