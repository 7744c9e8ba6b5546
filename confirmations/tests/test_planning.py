"""Every change of an appointment plans or withdraws messages in its own
transaction (issue 3: the planning seam, SPEC R9–R18, D5–D8, D12–D14)."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import translation
from django_q.models import OrmQ

from conftest import TORONTO, book, make_patient, make_professional, make_service, make_slot
from outbox.models import Message
from schedules.actors import PATIENT, Actor
from schedules.models import Appointment, StatusChange

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)  # ten days before the slot fixture (2026-12-03 14:30)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def pending(appointment=None, **filters):
    rows = Message.objects.filter(state=Message.State.PENDING, **filters)
    if appointment is not None:
        rows = rows.filter(appointment_ref=appointment.public_id)
    return sorted((message.kind, message.due_at.astimezone(TORONTO)) for message in rows)


def local(*args):
    return datetime(*args, tzinfo=TORONTO)


class TestBooking:
    def test_r9_a_booking_plans_the_confirmation_now_and_the_reminder_48_hours_before(self, slot, patient):
        appointment = book(slot, patient)
        assert pending(appointment) == [("confirmation", NOW), ("reminder", local(2026, 12, 1, 14, 30))]

    def test_the_messages_remember_what_they_announce(self, slot, patient):
        appointment = book(slot, patient)
        message = Message.objects.get(kind="confirmation")
        assert (message.patient, message.clinic, message.language) == (patient, slot.professional.clinic, "fr")
        assert message.planned_start == appointment.start
        assert message.snapshot["patient"] == "Jean Roy"
        assert message.channel == ""  # resolved when sent (D9)

    def test_r20_an_online_booking_uses_the_language_chosen_at_booking(self, slot, patient):
        book(slot, patient, source="online_hub", booking_language="en")
        assert set(Message.objects.values_list("language", flat=True)) == {"en"}

    def test_d1_out_of_scope_stores_the_reason_and_plans_nothing(self, slot, patient, clinic):
        specialist_slot = make_slot(make_professional(clinic, kind="specialist"), slot.service, slot.start)
        appointment = book(specialist_slot, patient)
        assert appointment.hub_reason == "professional_not_covered"
        assert appointment.get_hub_reason_display() == "type de professionnel non pris en charge par le Hub"
        assert Message.objects.count() == 0
        assert appointment.history.get().text == (
            "Réservé. Le Hub n’envoie rien\u00a0: type de professionnel non pris en charge par le Hub."
        )

    def test_d1_every_reason_the_rules_give_is_stored_and_labelled(self):
        # The rules (confirmations/rules.py) decide; the appointment only stores their answer.
        from confirmations.tests.test_rules import SCOPE

        given = {reason for _rule, _change, reason in SCOPE if reason is not None}
        assert given == set(Appointment.HubReason.values) - {Appointment.HubReason.HANDLED}

    def test_r3_outside_a_slot_nothing_is_planned(self, slot, patient):
        appointment = book(None, patient, professional=slot.professional, service=slot.service,
                           start=slot.start, end=slot.end)  # fmt: skip
        assert appointment.hub_reason == "outside_slot"
        assert Message.objects.count() == 0

    def test_r13_a_booking_in_the_past_gets_nothing(self, slot, patient, frozen_clock):
        frozen_clock.move_to(slot.start + timedelta(minutes=1))
        assert book(slot, patient).messages.count() == 0

    def test_r29_the_booking_is_in_the_history_with_its_author(self, slot, patient):
        user = User.objects.create_user("accueil")
        appointment = Appointment(slot=slot, patient=patient)
        appointment.save(actor=Actor("staff", user))
        line = appointment.history.get()
        assert (line.status, line.actor, line.user) == ("booked", "staff", user)
        assert line.text == (
            "Réservé. Confirmation\u00a0: envoi prévu maintenant. "
            "Rappel\u00a0: envoi prévu le 1er décembre 2026 à 14\u00a0h\u00a030."
        )
        with translation.override("en"):
            assert line.text == (
                "Booked. Confirmation: to be sent now. Reminder: to be sent on December 1, 2026 at 2:30 PM."
            )

    def test_due_sends_are_queued_for_the_worker_when_the_change_commits(
        self, slot, patient, django_capture_on_commit_callbacks, settings
    ):
        settings.HUB_WAKE = "queue"  # SQLite, PgBouncer (PostgreSQL's NOTIFY: test_waker.py)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            book(slot, patient)
        assert len(callbacks) == 1
        assert OrmQ.objects.count() == 1  # one fast-path pass, on django-q2's ORM broker

    def test_a_change_that_rolls_back_leaves_no_message_and_no_history(self, slot, patient):
        class Refused(Exception):
            pass

        with pytest.raises(Refused), transaction.atomic():
            book(slot, patient)  # plans its messages and history...
            raise Refused  # ...then the change is rolled back
        assert (Message.objects.count(), StatusChange.objects.count()) == (0, 0)


class TestModification:
    def test_r15_d5_a_new_time_sends_a_modification_and_replans_the_reminder(self, slot, patient):
        appointment = book(slot, patient)
        appointment.slot = make_slot(slot.professional, slot.service, slot.start + timedelta(days=1))
        appointment.save()  # D16: a new time is a new slot
        assert pending(appointment) == [("modification", NOW), ("reminder", local(2026, 12, 2, 14, 30))]
        withdrawn = Message.objects.filter(state="withdrawn")
        assert sorted(withdrawn.values_list("kind", flat=True)) == ["confirmation", "reminder"]

    def test_d5_a_modification_resets_a_confirmed_status(self, slot, patient):
        appointment = book(slot, patient, status="confirmed_email")
        appointment.professional = make_professional(slot.professional.clinic, first_name="Julie", kind="np")
        appointment.save()
        appointment.refresh_from_db()
        assert appointment.status == "booked"
        assert appointment.history.last().text.startswith(
            "Messages en attente retirés\u00a0: le rendez-vous a été modifié. "
            "Modifié\u00a0: le patient en sera avisé et devra confirmer de nouveau."
        )

    def test_d5_editing_internal_notes_sends_nothing(self, slot, patient):
        appointment = book(slot, patient)
        appointment.notes = "Apporter la carte d'assurance maladie"
        appointment.save()
        assert Message.objects.count() == 2

    def test_r16_a_service_change_sends_nothing_and_keeps_the_reminder(self, slot, patient, clinic):
        appointment = book(slot, patient)
        appointment.service = make_service(clinic, category="phone", name_fr="Téléphone")
        appointment.save()
        assert pending(appointment) == [("confirmation", NOW), ("reminder", local(2026, 12, 1, 14, 30))]

    def test_r17_a_copy_keeps_the_original_service_and_is_a_new_booking(self, slot, patient, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        original = book(slot, patient, service=phone)
        other_slot = make_slot(slot.professional, slot.service, slot.start + timedelta(days=7))
        copy = original.copy_to(other_slot)
        assert copy.service == phone != other_slot.service
        assert [kind for kind, _due in pending(copy)] == ["confirmation", "reminder"]

    def test_r17_a_move_keeps_the_service_and_is_a_modification(self, slot, patient, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        appointment = book(slot, patient, service=phone)
        other_slot = make_slot(slot.professional, slot.service, slot.start + timedelta(days=7))
        appointment.move_to(other_slot)
        appointment.refresh_from_db()
        assert (appointment.slot, appointment.service, appointment.start) == (other_slot, phone, other_slot.start)
        assert "modification" in [kind for kind, _due in pending(appointment)]


class TestCancellation:
    def test_r18_d8_cancelling_sends_a_cancellation_and_withdraws_the_reminder(self, slot, patient):
        appointment = book(slot, patient)
        appointment.status = Appointment.Status.CANCELLED
        appointment.save(actor=PATIENT)
        assert [kind for kind, _due in pending(appointment)] == ["cancellation"]
        assert Message.objects.get(kind="reminder").state == "withdrawn"
        assert appointment.history.last().actor == "patient"

    def test_r18_d7_deleting_sends_a_cancellation_and_keeps_the_log_and_history(self, slot, patient):
        appointment = book(slot, patient)
        ref = appointment.public_id
        appointment.delete()
        log = Message.objects.filter(appointment_ref=ref)
        assert sorted(log.values_list("kind", "state")) == [
            ("cancellation", "pending"),
            ("confirmation", "withdrawn"),
            ("reminder", "withdrawn"),
        ]
        assert not log.exclude(appointment=None).exists()
        history = StatusChange.objects.filter(appointment_ref=ref)
        assert history.count() == 2
        assert history.last().text == (
            "Supprimé. Messages en attente retirés\u00a0: le rendez-vous a été supprimé. "
            "Annulation\u00a0: envoi prévu maintenant."
        )

    def test_a_bulk_delete_plans_each_cancellation(self, slot, patient):
        book(slot, patient)
        Appointment.objects.all().delete()
        assert Message.objects.filter(kind="cancellation").count() == 1

    def test_bulk_updates_are_refused(self, slot, patient):
        book(slot, patient)
        with pytest.raises(TypeError, match="one at a time"):
            Appointment.objects.update(status="cancelled")


class TestFaq:
    def test_d12_moving_out_of_a_slot_withdraws_without_a_cancellation(self, slot, patient):
        appointment = book(slot, patient)
        appointment.slot = None
        appointment.save()
        assert pending(appointment) == []
        assert not Message.objects.filter(kind="cancellation").exists()
        assert Message.objects.get(kind="reminder").state == "withdrawn"
        assert appointment.history.last().text == (
            "Messages en attente retirés\u00a0: le rendez-vous n’est plus traité par le Hub. "
            "Le Hub n’enverra plus rien pour ce rendez-vous (réservé hors de toute plage horaire)\u00a0; "
            "le patient n’en est pas avisé."
        )
        assert appointment.hub_reason == "outside_slot"

    def test_d12_moving_back_into_a_slot_is_a_new_booking(self, slot, patient):
        appointment = book(slot, patient)
        appointment.slot = None
        appointment.save()
        appointment.slot = slot
        appointment.save()
        assert pending(appointment) == [("confirmation", NOW), ("reminder", local(2026, 12, 1, 14, 30))]

    def test_d13_a_new_patient_gets_a_confirmation_and_the_former_one_a_cancellation(self, slot, patient):
        appointment = book(slot, patient)
        newcomer = make_patient(patient.clinic, first_name="Anne", email="anne@example.com")
        appointment.patient = newcomer
        appointment.save()
        mine = Message.objects.filter(state="pending")
        assert sorted(mine.filter(patient=patient).values_list("kind", flat=True)) == ["cancellation"]
        assert sorted(mine.filter(patient=newcomer).values_list("kind", flat=True)) == ["confirmation", "reminder"]
        assert Message.objects.get(kind="cancellation").snapshot["patient"] == "Jean Roy"
        assert "Annulation\u00a0: envoi prévu maintenant." in appointment.history.last().text


class TestFoundInReview:
    def test_r18_deleting_a_cancelled_appointment_keeps_its_pending_notice(self, slot, clinic, frozen_clock):
        frozen_clock.move_to(local(2026, 11, 23, 21, 0))  # calls wait for 09:00
        appointment = book(slot, make_patient(clinic, email="", phone="+14505550111"))
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        appointment.delete()
        assert Message.objects.get(kind="cancellation").state == "pending"

    def test_d13_a_new_patient_starts_from_booked(self, slot, patient):
        appointment = book(slot, patient, status="confirmed_email")
        appointment.patient = make_patient(patient.clinic, first_name="Anne", email="anne@example.com")
        appointment.save()
        appointment.refresh_from_db()
        assert appointment.status == "booked"

    def test_r20_a_new_patient_does_not_inherit_the_online_booking_language(self, slot, patient):
        appointment = book(slot, patient, source="online_hub", booking_language="en")
        appointment.patient = make_patient(patient.clinic, first_name="Anne", email="anne@example.com", language="fr")
        appointment.save()
        assert Message.objects.get(kind="confirmation", patient=appointment.patient).language == "fr"

    def test_r17_putting_an_appointment_in_another_slot_moves_it_there(self, slot, patient, clinic):
        appointment = book(slot, patient)
        other = make_slot(
            make_professional(clinic, first_name="Julie", kind="np"), slot.service, slot.start + timedelta(days=7)
        )
        appointment.slot = other
        appointment.save()
        appointment.refresh_from_db()
        assert (appointment.professional, appointment.start, appointment.end) == (
            other.professional,
            other.start,
            other.end,
        )
        assert "modification" in [kind for kind, _due in pending(appointment)]

    def test_r16_a_service_round_trip_keeps_the_reminder(self, slot, patient, clinic):
        appointment = book(slot, patient)
        original = appointment.service
        appointment.service = make_service(clinic, category="none", name_fr="Administratif")
        appointment.save()
        appointment.service = original
        appointment.save()
        assert pending(appointment) == [("reminder", local(2026, 12, 1, 14, 30))]

    def test_d1_a_clinic_connected_after_the_booking_confirms_at_the_next_change(self, slot, patient, clinic):
        clinic.hub_connected = False
        clinic.save()
        appointment = book(slot, patient)
        clinic.hub_connected = True
        clinic.save()
        appointment.slot = make_slot(slot.professional, slot.service, slot.start + timedelta(hours=1))
        appointment.save()
        # The patient never heard of this appointment: a confirmation, not a modification.
        assert [kind for kind, _due in pending(appointment)] == ["confirmation", "reminder"]


class TestWhatASaveSays:
    """Which saves plan, and what the history says of them."""

    def test_r18_a_cancellation_saved_with_its_status_alone_still_sends_the_notice(self, slot, patient):
        appointment = book(slot, patient)
        appointment.status = Appointment.Status.CANCELLED
        appointment.save(update_fields=["status", "updated_at"])
        assert [kind for kind, _due in pending(appointment)] == ["cancellation"]

    def test_r18_restoring_a_cancelled_appointment_by_its_status_alone_books_it_anew(self, slot, patient):
        appointment = book(slot, patient, status="cancelled")
        appointment.status = Appointment.Status.BOOKED
        appointment.save(update_fields=["status"])
        assert [kind for kind, _due in pending(appointment)] == ["confirmation", "reminder"]

    def test_a_save_of_only_the_fields_that_tell_the_patient_nothing_plans_nothing(self, slot, clinic, patient):
        appointment = book(slot, patient)
        clinic.hub_connected = False  # a change the next planned save would act on
        clinic.save()
        appointment.notes = "Rappeler"
        appointment.status = Appointment.Status.CONFIRMED_EMAIL  # the patient's confirmation, say
        appointment.save(update_fields=["status", "communication", "updated_at", "notes", "version"])
        assert [kind for kind, _due in pending(appointment)] == ["confirmation", "reminder"]
        appointment.save(update_fields=["notes", "slot"])
        assert pending(appointment) == []  # with another field, it plans

    def test_d5_r16_a_service_change_keeps_a_confirmed_status_and_its_latest_communication(self, slot, patient, clinic):
        appointment = book(slot, patient)
        appointment.status, appointment.communication = "confirmed_email", {"kind": "note", "text": "Sent"}
        appointment.save(update_fields=["status", "communication"])
        appointment.service = make_service(clinic, category="phone", name_fr="Téléphone")
        appointment.save()
        appointment.refresh_from_db()
        assert (appointment.status, appointment.communication) == (
            "confirmed_email",
            {"kind": "note", "text": "Sent"},
        )

    def test_what_the_patient_did_comes_first_in_the_history_line(self, slot, patient):
        appointment = book(slot, patient)
        appointment.status = Appointment.Status.CANCELLED
        appointment.save(update_fields=["status", "updated_at"], actor=PATIENT, said={"kind": "cancelled_online"})
        assert appointment.history.last().text == (
            "Annulé par le patient au moyen du lien du courriel. "
            "Messages en attente retirés\u00a0: le rendez-vous a été annulé. "
            "Annulation\u00a0: envoi prévu maintenant."
        )

    def test_r29_a_status_set_by_staff_is_a_history_line_even_with_nothing_to_say(self, slot, patient):
        appointment = book(slot, patient)
        appointment.status = Appointment.Status.CONFIRMED_VOICE  # the patient called the clinic
        appointment.save()
        line = appointment.history.last()
        assert (line.status, line.events) == ("confirmed_voice", [])

    def test_a_save_that_changes_nothing_writes_no_history(self, slot, patient):
        appointment = book(slot, patient)
        appointment.notes = "Apporter la carte d'assurance maladie"
        appointment.save()
        assert appointment.history.count() == 1  # the booking

    def test_d1_deleting_an_appointment_never_announced_sends_nothing_after_its_clinic_connected(
        self, slot, patient, clinic
    ):
        clinic.hub_connected = False
        clinic.save()
        appointment = book(slot, patient)
        clinic.hub_connected = True
        clinic.save()
        appointment.delete()
        assert Message.objects.count() == 0  # the patient never heard of it: no cancellation


class TestWakingTheWorker:
    """What is due now is sent now: the worker is asked for a pass when the change commits."""

    def test_on_postgresql_one_notify_per_transaction_and_no_task_row(self, slot, patient, monkeypatch):
        notified = []
        monkeypatch.setattr("outbox.waker.by_notify", lambda: True)
        monkeypatch.setattr("outbox.waker.notify", lambda: notified.append(1))
        with transaction.atomic():
            book(slot, patient)
            assert notified == [1]
            book(make_slot(slot.professional, slot.service, slot.start + timedelta(days=1)), patient)
        assert notified == [1]  # once for the transaction, however many bookings
        assert OrmQ.objects.count() == 0

    def test_on_the_orm_broker_the_task_row_is_written_inside_the_change(self, slot, patient, settings):
        settings.HUB_WAKE = "queue"
        with transaction.atomic():
            book(slot, patient)
            assert OrmQ.objects.count() == 1  # commits with the outbox rows, never without them
            book(make_slot(slot.professional, slot.service, slot.start + timedelta(days=1)), patient)
        assert OrmQ.objects.count() == 1

    def test_with_redis_the_task_is_queued_once_the_change_commits(
        self, slot, patient, settings, monkeypatch, django_capture_on_commit_callbacks
    ):
        settings.HUB_WAKE = "queue"
        settings.Q_CLUSTER = {"name": "hub", "redis": "redis://127.0.0.1:6379/0"}
        queued = []
        monkeypatch.setattr("outbox.waker.async_task", lambda task, *args: queued.append(task))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            book(slot, patient)
        assert queued == []  # not before the commit: the worker would find nothing
        for callback in callbacks:
            callback()
        assert queued == ["outbox.tasks.send_due_messages"]

    def test_a_broker_that_is_down_fails_no_change_and_is_logged(
        self, slot, patient, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
    ):
        settings.HUB_WAKE = "queue"
        settings.Q_CLUSTER = {"name": "hub", "redis": "redis://127.0.0.1:6379/0"}

        def down(task, *args):
            raise ConnectionError("redis is down")

        monkeypatch.setattr("outbox.waker.async_task", down)
        with django_capture_on_commit_callbacks(execute=True):
            appointment = book(slot, patient)
        assert Appointment.objects.filter(pk=appointment.pk).exists()
        [record] = [r for r in caplog.records if r.name == "outbox.waker"]
        assert record.getMessage() == (
            "could not queue outbox.tasks.send_due_messages; the per-minute schedule will catch up"
        )
        assert record.exc_info[0] is ConnectionError
