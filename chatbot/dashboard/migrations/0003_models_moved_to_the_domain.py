"""ConversationInfo and Tag now belong to ``conversations``, SupportHours and CannedResponse to
``stores`` (their migrations 0002 take them over): the dashboard forgets them, its tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0002_message_search_index"),
        ("conversations", "0002_staff_info_from_dashboard"),
        ("stores", "0002_support_settings_from_dashboard"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ConversationInfo"),
                migrations.DeleteModel(name="Tag"),
                migrations.DeleteModel(name="SupportHours"),
                migrations.DeleteModel(name="CannedResponse"),
            ],
        )
    ]
