"""D16: two active appointments of one professional never overlap.

PostgreSQL: an exclusion constraint over (professional, [start, end)) for
rows not cancelled; `=` on an integer inside a GiST index needs btree_gist,
a trusted extension (PostgreSQL 13+) that the database owner may create.
SQLite: a trigger (schedules/triggers.py), installed after every migrate.
"""

from django.db import migrations

from schedules import triggers

CONSTRAINT = "appointment_no_overlap_per_professional"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist;")
        schema_editor.execute(
            f"ALTER TABLE schedules_appointment ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
            '(professional_id WITH =, tstzrange(start, "end") WITH &&) WHERE (status <> \'cancelled\');'
        )
    else:
        triggers.install(apps, schema_editor)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE schedules_appointment DROP CONSTRAINT IF EXISTS {CONSTRAINT};")


class Migration(migrations.Migration):
    dependencies = [("schedules", "0006_appointment_version")]

    operations = [migrations.RunPython(forwards, backwards)]
