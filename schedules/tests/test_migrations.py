"""Sentences stored before events keep their words, less the rule codes
staff are not meant to read (migrations schedules 0009, confirmations 0009)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("schedules", "0008_name_search_indexes"), ("confirmations", "0008_admin_list_indexes")]
AFTER = [("schedules", "0009_events_not_sentences"), ("confirmations", "0009_message_reason")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_sentences_become_notes_without_rule_codes():
    apps = migrate(BEFORE)
    clinic = apps.get_model("schedules", "Clinic").objects.create(name="C", phone="+15145550100")
    professional = apps.get_model("schedules", "Professional").objects.create(
        clinic=clinic, first_name="M", last_name="T", kind="gp"
    )
    service = apps.get_model("schedules", "Service").objects.create(
        clinic=clinic, name_fr="S", name_en="S", category="in_person"
    )
    patient = apps.get_model("patients", "Patient").objects.create(clinic=clinic, first_name="J", last_name="R")
    start = datetime(2030, 1, 1, 15, tzinfo=UTC)
    appointment = apps.get_model("schedules", "Appointment").objects.create(
        patient=patient, professional=professional, service=service, start=start, end=start + timedelta(minutes=30),
        status_note="Envoyé le 2029-12-30 à 10 h 00 à j@example.com", hub_reason="outside_slot",
    )  # fmt: skip
    apps.get_model("schedules", "StatusChange").objects.create(
        appointment=appointment, appointment_ref=appointment.public_id, clinic=clinic, status="booked",
        note="Modifié : le patient en sera avisé et devra confirmer de nouveau (D5).", actor="hub",
    )  # fmt: skip
    apps.get_model("confirmations", "Message").objects.create(
        appointment=appointment, appointment_ref=appointment.public_id, clinic=clinic, patient=patient,
        kind="confirmation", language="fr", due_at=start, planned_start=start, state="failed",
        error="aucun moyen de contact utilisable dans le dossier du patient (R19, D9)",
    )  # fmt: skip
    try:
        apps = migrate(AFTER)
        moved = apps.get_model("schedules", "Appointment").objects.get()
        assert moved.communication == {"kind": "note", "text": "Envoyé le 2029-12-30 à 10 h 00 à j@example.com"}
        change = apps.get_model("schedules", "StatusChange").objects.get()
        assert change.events == [
            {"kind": "note", "text": "Modifié : le patient en sera avisé et devra confirmer de nouveau."}
        ]
        message = apps.get_model("confirmations", "Message").objects.get()
        assert message.error == "aucun moyen de contact utilisable dans le dossier du patient"
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_patients_words_of_a_cancellation_request_leave_the_history():
    apps = migrate([("schedules", "0011_audit_staff_access")])
    clinic = apps.get_model("schedules", "Clinic").objects.create(name="C", phone="+15145550100")
    said = [
        {"kind": "sms_stopped", "to": "+15145550111", "word": "CANCEL"},
        {"kind": "wants_to_cancel", "to": "+15145550111", "word": "ANNULEZJAIUNECHIMIOD"},
    ]
    history = apps.get_model("schedules", "StatusChange").objects
    history.create(appointment_ref=uuid4(), clinic=clinic, status="booked", events=said, actor="patient")
    history.create(appointment_ref=uuid4(), clinic=clinic, status="booked", events=[{"kind": "booked"}], actor="hub")
    try:
        apps = migrate([("schedules", "0012_forget_words_of_cancellation_requests")])
        lines = apps.get_model("schedules", "StatusChange").objects.order_by("id")
        assert [line.events for line in lines] == [
            [
                {"kind": "sms_stopped", "to": "+15145550111", "word": "CANCEL"},  # a keyword, not their words
                {"kind": "wants_to_cancel", "to": "+15145550111"},
            ],
            [{"kind": "booked"}],
        ]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
