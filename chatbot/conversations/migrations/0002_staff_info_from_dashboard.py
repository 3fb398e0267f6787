"""A conversation's escalation, assignee and tags belong to the conversation: their models move here
from the dashboard app. Only Django's state changes; the tables (and their rows) stay as they are."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
        ("stores", "0001_initial"),
        ("dashboard", "0002_message_search_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Tag",
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
                        ("name", models.CharField(max_length=40)),
                        (
                            "store",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="tags",
                                to="stores.store",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["name"],
                        "db_table": "dashboard_tag",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("store", "name"), name="unique_tag_per_store"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ConversationInfo",
                    fields=[
                        (
                            "conversation",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="staff_info",
                                serialize=False,
                                to="conversations.conversation",
                            ),
                        ),
                        ("escalated_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "escalated_by",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("shopper", "Shopper asked for a person"),
                                    ("bot", "Bot handed over"),
                                    ("staff", "Staff took over"),
                                ],
                                max_length=8,
                            ),
                        ),
                        (
                            "assignee",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="assigned_conversations",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "tags",
                            models.ManyToManyField(
                                blank=True, related_name="conversations", to="conversations.tag"
                            ),
                        ),
                    ],
                    options={"db_table": "dashboard_conversationinfo"},
                ),
            ],
        )
    ]
