"""Support hours and canned responses are store settings: their models move here from the dashboard
app. Only Django's state changes; the tables (and their rows) stay as they are."""

import datetime

import django.db.models.deletion
from django.db import migrations, models

import chatbot.stores.models


class Migration(migrations.Migration):
    dependencies = [
        ("stores", "0001_initial"),
        ("dashboard", "0002_message_search_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SupportHours",
                    fields=[
                        (
                            "store",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="support_hours",
                                serialize=False,
                                to="stores.store",
                            ),
                        ),
                        (
                            "weekdays",
                            models.JSONField(
                                blank=True,
                                default=list,
                                help_text="0 = Monday … 6 = Sunday",
                                validators=[chatbot.stores.models.validate_weekdays],
                            ),
                        ),
                        ("opens", models.TimeField(default=datetime.time(9, 0))),
                        ("closes", models.TimeField(default=datetime.time(17, 0))),
                        (
                            "time_zone",
                            models.CharField(
                                default="UTC",
                                max_length=64,
                                validators=[chatbot.stores.models.validate_time_zone],
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "support hours",
                        "db_table": "dashboard_supporthours",
                    },
                ),
                migrations.CreateModel(
                    name="CannedResponse",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("title", models.CharField(max_length=80)),
                        ("text", models.TextField()),
                        (
                            "store",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="canned_responses",
                                to="stores.store",
                            ),
                        ),
                    ],
                    options={"ordering": ["title"], "db_table": "dashboard_cannedresponse"},
                ),
            ],
        )
    ]
