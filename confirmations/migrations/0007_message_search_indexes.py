"""An index for the admin's message search (PostgreSQL only).

Staff find a message by the start of its address (Django's `istartswith`:
UPPER("to") LIKE 'TEXT%'), which a btree index with pattern operators
answers at any size; the whole number and the provider's id are equality
lookups (`message_sms_by_recipient`, `message_by_provider_id`). SQLite:
nothing (LIKE there ignores case and such an index).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'CREATE INDEX IF NOT EXISTS message_to_prefix ON confirmations_message (UPPER("to"::text) text_pattern_ops);'
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS message_to_prefix;")


class Migration(migrations.Migration):
    dependencies = [("confirmations", "0006_outcome_unknown_and_resend")]

    operations = [migrations.RunPython(forwards, backwards)]
