"""Database-enforced rules of the data model (issue 2; SPEC D2, D14, R7)."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from conftest import book, make_clinic, make_patient, make_professional, make_service, make_slot, postgres_only
from schedules.models import Appointment, Slot

pytestmark = pytest.mark.django_db


class TestTimes:
    def test_it_refuses_a_slot_that_ends_before_it_starts(self, professional, service, slot):
        with pytest.raises(IntegrityError):
            Slot.objects.create(professional=professional, service=service, start=slot.end, end=slot.start)

    def test_it_refuses_an_empty_slot(self, professional, service, slot):
        start = slot.start + timedelta(days=1)
        with pytest.raises(IntegrityError):
            Slot.objects.create(professional=professional, service=service, start=start, end=start)

    def test_it_refuses_an_appointment_that_ends_before_it_starts(self, slot, patient):
        with pytest.raises(IntegrityError):
            book(slot, patient, start=slot.end, end=slot.start)


class TestOneClinic:
    def test_it_refuses_a_slot_whose_service_is_another_clinics(self, professional, slot):
        foreign_service = make_service(make_clinic("Autre clinique"))
        with pytest.raises(IntegrityError), transaction.atomic():
            make_slot(professional, foreign_service, slot.start + timedelta(days=1))

    def test_it_refuses_moving_a_slot_to_another_clinics_service(self, slot):
        slot.service = make_service(make_clinic("Autre clinique"))
        with pytest.raises(IntegrityError), transaction.atomic():
            slot.save()

    def test_it_refuses_an_appointment_for_another_clinics_patient(self, slot):
        stranger = make_patient(make_clinic("Autre clinique"))
        with pytest.raises(IntegrityError), transaction.atomic():
            book(slot, stranger)

    def test_it_refuses_an_appointment_with_another_clinics_service(self, slot, patient):
        foreign_service = make_service(make_clinic("Autre clinique"))
        with pytest.raises(IntegrityError), transaction.atomic():
            book(slot, patient, service=foreign_service)

    def test_it_refuses_an_appointment_in_another_clinics_slot(self, slot):
        other = make_clinic("Autre clinique")
        everything_else_theirs = {
            "professional": make_professional(other),
            "service": make_service(other),
        }
        with pytest.raises(IntegrityError), transaction.atomic():
            book(slot, make_patient(other), **everything_else_theirs)

    def test_forms_say_why_before_the_database_refuses(self, slot):
        from django.core.exceptions import ValidationError

        appointment = Appointment(slot=slot, patient=make_patient(make_clinic("Autre clinique")))
        with pytest.raises(ValidationError) as raised:
            appointment.full_clean()
        assert "patient" in raised.value.message_dict


class TestSlotDefaults:
    """R7: the slot gives its service, professional and times by default."""

    def test_it_takes_the_slots_service_professional_and_times(self, slot, patient):
        appointment = book(slot, patient)
        assert (appointment.service, appointment.professional) == (slot.service, slot.professional)
        assert (appointment.start, appointment.end) == (slot.start, slot.end)

    def test_a_service_chosen_at_booking_wins_and_the_slot_keeps_its_own(self, slot, patient, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        appointment = book(slot, patient, service=phone)
        slot.refresh_from_db()
        assert appointment.service == phone
        assert slot.service != phone

    def test_a_new_appointment_in_the_same_slot_takes_the_slots_service_again(self, slot, patient, clinic):
        first = book(slot, patient, service=make_service(clinic, category="phone", name_fr="Téléphone"))
        first.status = Appointment.Status.CANCELLED
        first.save()
        assert book(slot, patient).service == slot.service


class TestOneActiveAppointmentPerSlot:
    """D2: a slot holds at most one active appointment."""

    def test_it_refuses_a_second_active_appointment(self, slot, patient):
        book(slot, patient)
        with pytest.raises(IntegrityError), transaction.atomic():
            book(slot, patient)

    def test_cancelling_frees_the_slot(self, slot, patient):
        first = book(slot, patient)
        first.status = Appointment.Status.CANCELLED
        first.save()
        second = book(slot, patient)
        assert list(slot.appointments.exclude(status="cancelled")) == [second]

    def test_appointments_outside_slots_do_not_take_a_slot(self, slot, patient):
        book(None, patient, professional=slot.professional, service=slot.service, start=slot.start, end=slot.end)
        other = make_professional(slot.professional.clinic, first_name="Julie")
        book(None, patient, professional=other, service=slot.service, start=slot.start, end=slot.end)
        assert Appointment.objects.filter(slot=None).count() == 2


class TestNoProfessionalDoubleBooked:
    """D16: two active appointments of one professional never overlap; the
    database refuses it (an exclusion constraint on PostgreSQL, a trigger
    on SQLite), whatever path the rows take."""

    def test_it_refuses_a_second_appointment_overlapping_the_first(self, slot, patient):
        book(None, patient, professional=slot.professional, service=slot.service, start=slot.start, end=slot.end)
        with pytest.raises(IntegrityError), transaction.atomic():
            book(
                None,
                patient,
                professional=slot.professional,
                service=slot.service,
                start=slot.start + timedelta(minutes=10),
                end=slot.end + timedelta(minutes=10),
            )

    def test_back_to_back_appointments_are_fine(self, slot, patient):
        book(slot, patient)
        book(
            None,
            patient,
            professional=slot.professional,
            service=slot.service,
            start=slot.end,
            end=slot.end + timedelta(minutes=30),
        )
        assert Appointment.objects.count() == 2

    def test_a_cancelled_appointment_does_not_count(self, slot, patient):
        book(slot, patient, status="cancelled")
        book(slot, patient)
        assert Appointment.objects.count() == 2

    def test_d16_editing_the_times_out_of_the_slot_frees_it_and_the_new_time_cannot_be_double_booked(
        self, slot, patient, professional, service
    ):
        """The fault: 09:00 → 10:00 kept the 09:00 slot, so the 10:00 slot could be booked too."""
        ten = make_slot(professional, service, slot.start + timedelta(hours=1))
        appointment = book(slot, patient)
        appointment.start, appointment.end = ten.start, ten.end
        appointment.save()
        appointment.refresh_from_db()
        assert appointment.slot is None and appointment.hub_reason == "outside_slot"  # D12: it left its slot
        book(slot, make_patient(slot.professional.clinic, first_name="Anne"))  # the 09:00 slot is free again
        with pytest.raises(IntegrityError), transaction.atomic():
            book(ten, make_patient(slot.professional.clinic, first_name="Paul"))
        assert Appointment.objects.filter(start=ten.start).exclude(status="cancelled").count() == 1

    def test_times_edited_within_the_slot_keep_it(self, slot, patient):
        appointment = book(slot, patient)
        appointment.start += timedelta(minutes=10)
        appointment.save()
        appointment.refresh_from_db()
        assert appointment.slot == slot

    def test_the_form_check_names_the_appointment_in_the_way(self, slot, patient):
        from django.core.exceptions import ValidationError

        book(slot, patient)
        second = Appointment(
            patient=patient, professional=slot.professional, service=slot.service, start=slot.start, end=slot.end
        )
        with pytest.raises(ValidationError, match="Marie Tremblay a déjà un rendez-vous à cette heure"):
            second.full_clean()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bookings_of_one_slot_exactly_one_wins(slot, patient):
    postgres_only(connection)  # SQLite serialises writers: there is no race to test
    other_patient = make_patient(slot.professional.clinic, first_name="Anne")
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(who):
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                book(slot, who)
            outcomes.append("booked")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(who,)) for who in (patient, other_patient)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "refused"]
    assert Appointment.objects.filter(slot=slot).count() == 1


class TestSlotDeletion:
    """D14: a slot that holds an active appointment cannot be deleted."""

    def test_it_refuses_to_delete_a_slot_with_an_active_appointment(self, slot, patient):
        appointment = book(slot, patient)
        with pytest.raises(ProtectedError) as refused:
            slot.delete()
        assert refused.value.protected_objects == {appointment}
        assert Slot.objects.filter(pk=slot.pk).exists()

    def test_bulk_deletion_is_refused_too(self, slot, patient):
        book(slot, patient)
        with pytest.raises(ProtectedError):
            Slot.objects.filter(pk=slot.pk).delete()

    def test_a_slot_holding_only_cancelled_appointments_can_be_deleted(self, slot, patient):
        appointment = book(slot, patient, status=Appointment.Status.CANCELLED)
        slot.delete()
        appointment.refresh_from_db()
        assert appointment.slot is None

    def test_the_database_refuses_a_raw_delete_of_a_held_slot(self, slot, patient):
        book(slot, patient)
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM schedules_slot WHERE id = %s", [slot.pk])
            # Foreign keys are checked at commit; the test's transaction never
            # commits, so check them now.
            connection.check_constraints()
