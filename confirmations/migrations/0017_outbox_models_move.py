"""The outbox's models now belong to the outbox app (outbox/0001): Django
forgets them here; their tables stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("confirmations", "0016_offer_replies"),
        ("outbox", "0001_initial"),
        ("booking", "0009_alter_offer_message"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Reply"),
                migrations.DeleteModel(name="Message"),
                migrations.DeleteModel(name="OptOut"),
            ],
            database_operations=[],
        ),
    ]
