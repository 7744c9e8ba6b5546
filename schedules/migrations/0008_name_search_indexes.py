"""Trigram indexes for the admin's name search (PostgreSQL only).

The appointment list finds the patients and professionals whose names
contain the words typed (Django's `icontains`: UPPER(name) LIKE '%WORD%'),
then their appointments by index. pg_trgm lets those LIKEs use an index on
tables of any size; it is a trusted extension (PostgreSQL 13+) that the
database owner may create. SQLite: nothing (its tables stay small).
"""

from django.db import migrations

INDEXES = [
    ("patient_last_name_trgm", "patients_patient", "last_name"),
    ("patient_first_name_trgm", "patients_patient", "first_name"),
    ("professional_last_name_trgm", "schedules_professional", "last_name"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm;")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops);"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name};")


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0007_no_overlapping_appointments"),
        ("patients", "0003_public_id_label"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
