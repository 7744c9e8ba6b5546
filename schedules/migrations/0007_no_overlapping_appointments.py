"""D16: two active appointments of one professional never overlap.

PostgreSQL: an exclusion constraint over (professional, [start, end)) for
rows not cancelled; `=` on an integer inside a GiST index needs btree_gist,
a trusted extension (PostgreSQL 13+) that the database owner may create.
SQLite: a trigger (schedules/triggers.py), installed after every migrate.
"""

from django.db import migrations

from schedules import triggers

CONSTRAINT = "appointment_no_overlap_per_professional"


# Active appointments of one professional that overlap: two rows, a and b.
OVERLAPS = """
    SELECT a.id, b.id, a.professional_id, a.start
    FROM schedules_appointment a JOIN schedules_appointment b
      ON a.professional_id = b.professional_id AND a.id < b.id
     AND a.start < b."end" AND b.start < a."end"
    WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
    ORDER BY a.start
"""


def refuse_existing_overlaps(schema_editor):
    """Double bookings made before this rule cannot be resolved here: which
    one to move or cancel is the clinic's decision, and each sends its own
    notice. List them and stop; migrate again once they are resolved."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(OVERLAPS)
        overlaps = cursor.fetchall()
    if overlaps:
        lines = "\n".join(
            f"  professional {professional}, {start}: appointments {first} and {second}"
            for first, second, professional, start in overlaps[:50]
        )
        raise RuntimeError(
            f"{len(overlaps)} pair(s) of active appointments of one professional overlap (D16):\n{lines}\n"
            "Move or cancel one appointment of each pair in the admin (/admin/schedules/appointment/<id>/change/), "
            "then run migrate again."
        )


def forwards(apps, schema_editor):
    refuse_existing_overlaps(schema_editor)
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
    else:
        for name, _table, _condition, _message in triggers.SQLITE_RULES:
            for event in ("insert", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{event};")


class Migration(migrations.Migration):
    dependencies = [("schedules", "0006_appointment_version")]

    operations = [migrations.RunPython(forwards, backwards)]
