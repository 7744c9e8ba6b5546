"""Cross-table rules the database enforces with triggers.

A CHECK constraint cannot look at another table, so these rules are
triggers, for PostgreSQL and SQLite alike, installed by migration:

- a slot's service belongs to its professional's clinic;
- an appointment's patient, service and slot belong to its professional's
  clinic (a clinic's staff must never book another clinic's patient);
- on SQLite, no two active appointments of one professional overlap (D16;
  PostgreSQL has an exclusion constraint for it).

Both raise an integrity error, which Django reports as IntegrityError.

SQLite loses a table's triggers whenever a migration rebuilds that table,
so `install` is idempotent and runs after every `migrate` (schedules/apps.py),
not only in the migration that first created them.
"""

# (name, table, condition that must NOT hold, message)
RULES = [
    (
        "slot_service_same_clinic",
        "schedules_slot",
        "(SELECT clinic_id FROM schedules_service WHERE id = NEW.service_id)"
        " IS DISTINCT FROM (SELECT clinic_id FROM schedules_professional WHERE id = NEW.professional_id)",
        "the service of a slot must belong to the clinic of its professional",
    ),
    (
        "appointment_same_clinic",
        "schedules_appointment",
        "(SELECT clinic_id FROM schedules_professional WHERE id = NEW.professional_id) IS DISTINCT FROM"
        " (SELECT clinic_id FROM patients_patient WHERE id = NEW.patient_id)"
        " OR (SELECT clinic_id FROM schedules_professional WHERE id = NEW.professional_id) IS DISTINCT FROM"
        " (SELECT clinic_id FROM schedules_service WHERE id = NEW.service_id)"
        " OR (NEW.slot_id IS NOT NULL AND (SELECT clinic_id FROM schedules_professional WHERE id = NEW.professional_id)"
        " IS DISTINCT FROM (SELECT p.clinic_id FROM schedules_slot s JOIN schedules_professional p"
        " ON p.id = s.professional_id WHERE s.id = NEW.slot_id))",
        "the patient, service and slot of an appointment must belong to the clinic of its professional",
    ),
]

# D16: on PostgreSQL an exclusion constraint refuses two active appointments
# of one professional that overlap (migration 0007). SQLite has none, and
# serialises its writers, so a trigger that looks for an overlap is as safe.
SQLITE_RULES = [
    (
        "appointment_no_overlap",
        "schedules_appointment",
        "NEW.status <> 'cancelled' AND EXISTS (SELECT 1 FROM schedules_appointment other"
        " WHERE other.professional_id = NEW.professional_id AND other.id IS NOT NEW.id"
        ' AND other.status <> \'cancelled\' AND other.start < NEW."end" AND NEW.start < other."end")',
        "a professional cannot have two active appointments at the same time",
    ),
]


def _sqlite(condition: str) -> str:
    # SQLite spells IS DISTINCT FROM as IS NOT.
    return condition.replace("IS DISTINCT FROM", "IS NOT")


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for name, table, condition, message in RULES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"""
                CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
                BEGIN
                    IF {condition} THEN
                        RAISE EXCEPTION '{name}: {message}' USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                $$ LANGUAGE plpgsql;
                """
            )
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};")
            schema_editor.execute(
                f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();"
            )
        elif vendor == "sqlite":
            for event in ("INSERT", "UPDATE"):
                schema_editor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name}_{event.lower()} BEFORE {event} ON {table}"
                    f" FOR EACH ROW WHEN {_sqlite(condition)}"
                    f" BEGIN SELECT RAISE(ABORT, '{name}: {message}'); END;"
                )

    if vendor == "sqlite":
        for name, table, condition, message in SQLITE_RULES:
            for event in ("INSERT", "UPDATE"):
                schema_editor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name}_{event.lower()} BEFORE {event} ON {table}"
                    f" FOR EACH ROW WHEN {condition}"
                    f" BEGIN SELECT RAISE(ABORT, '{name}: {message}'); END;"
                )


def install_after_migrate(using: str = "default", **kwargs) -> None:
    from django.db import connections

    with connections[using].schema_editor() as schema_editor:
        install(None, schema_editor)


def remove(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for name, table, _condition, _message in RULES + (SQLITE_RULES if vendor == "sqlite" else []):
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}();")
        elif vendor == "sqlite":
            for event in ("insert", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{event};")
