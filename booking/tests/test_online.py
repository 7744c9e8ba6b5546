"""Booking online (D20), below the pages: free slots, codes, the patient, the booking."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from booking import online, rules
from booking.models import BookingRequest
from booking.tests.conftest import NOW
from conftest import book, make_clinic, make_patient, make_professional, make_service, make_slot, postgres_only
from outbox.dispatch import send_due_messages
from outbox.models import Message
from patients.models import Patient
from schedules.models import Appointment

pytestmark = pytest.mark.django_db


def code_sent(request: BookingRequest) -> str:
    return Message.objects.filter(kind="code", to=request.contact).latest("id").snapshot["code"]


def verified(open_clinic, slot, channel="email", contact="jean@example.com", first="Jean", last="Roy", language="en"):
    request = online.ask(open_clinic, slot, language, first, last, channel, contact)
    assert online.verify(request.public_id, code_sent(request)) == rules.RIGHT
    request.refresh_from_db()
    return request


class TestFreeSlots:
    def test_only_free_slots_of_the_service_within_its_window_soonest_first(
        self, open_clinic, service, professional, patient, clock
    ):
        at = lambda hours: make_slot(professional, service, NOW + timedelta(hours=hours))  # noqa: E731
        too_soon, first, taken, second, too_far = at(1), at(2), at(3), at(5), at(24 * 61)
        book(taken, patient)
        other = make_service(open_clinic, name_fr="Vaccin", online_booking=True)
        make_slot(professional, other, NOW + timedelta(hours=4))
        assert list(online.free_slots(service)) == [first, second]
        assert too_soon not in online.free_slots(service) and too_far not in online.free_slots(service)

    def test_with_no_free_time_left_past_the_one_asked_from_the_page_starts_again_from_the_soonest(
        self, open_clinic, service, professional, clock
    ):
        at = lambda hours: make_slot(professional, service, NOW + timedelta(hours=hours))  # noqa: E731
        first, last = at(2), at(5)
        for beyond in ({"after": last}, {"before": first}):
            page = online.times_page(service, **beyond)
            assert (page.slots, page.earlier, page.later) == ([first, last], False, False)
        assert online.times_page(service, since=NOW + timedelta(days=30)).slots == []  # a date asked: none, said so

    def test_a_slot_overlapped_by_an_appointment_outside_any_slot_is_not_free(
        self, open_clinic, service, professional, patient, clock
    ):
        slot = make_slot(professional, service, NOW + timedelta(days=1))
        book(None, patient, professional=professional, service=service, start=slot.start, end=slot.end)
        assert list(online.free_slots(service)) == []

    def test_d16_an_appointment_reaching_into_a_slot_takes_it_one_ending_at_its_start_does_not(
        self, open_clinic, service, professional, patient, clock
    ):
        minutes = lambda n: timedelta(minutes=n)  # noqa: E731
        reached, after, within = (make_slot(professional, service, NOW + timedelta(days=1, hours=h)) for h in (0, 2, 4))
        for start, end in [(reached.start - minutes(30), reached.start + minutes(10)),
                           (after.start - minutes(60), after.start),
                           (within.start + minutes(10), within.start + minutes(20))]:  # fmt: skip
            book(None, patient, professional=professional, service=service, start=start, end=end)
        assert list(online.free_slots(service)) == [after]

    def test_a_cancelled_appointment_frees_its_slot(self, open_clinic, service, professional, patient, clock):
        slot = make_slot(professional, service, NOW + timedelta(days=1))
        appointment = book(slot, patient)
        appointment.status = "cancelled"
        appointment.save()
        assert list(online.free_slots(service)) == [slot]

    def test_a_professional_can_be_chosen(self, open_clinic, service, professional, clock):
        julie = make_professional(open_clinic, first_name="Julie")
        make_slot(professional, service, NOW + timedelta(days=1))
        hers = make_slot(julie, service, NOW + timedelta(days=2))
        assert list(online.free_slots(service, julie.pk)) == [hers]

    def test_a_clinic_never_shows_another_clinics_slots_or_services(self, open_clinic, service, clock):
        elsewhere = make_clinic("Clinique du Nord", online_booking=True, booking_address="nord")
        theirs = make_service(elsewhere, online_booking=True)
        make_slot(make_professional(elsewhere), theirs, NOW + timedelta(days=1))
        assert list(online.open_services(open_clinic)) == [service]
        assert list(online.free_slots(service)) == []
        assert online.open_clinic("nord") == elsewhere and online.open_clinic("nowhere") is None


class TestCodes:
    def test_the_code_goes_through_the_outbox_once_in_the_pages_language(self, open_clinic, slot, clock, channel_calls):
        request = online.ask(open_clinic, slot, "en", "Jean", "Roy", "email", "jean@example.com")
        assert BookingRequest.objects.get().code_hash != code_sent(request)  # only its hash is kept
        assert send_due_messages()["sent"] == 1
        message = Message.objects.get(kind="code")
        assert message.subject == "Clinique du Parc: your code to book an appointment"
        assert f"is {code_sent(request)}. It is valid for 10 minutes." in message.content
        assert (message.state, message.attempts) == ("sent", 1)
        assert not message.can_be_sent_again

    def test_a_code_by_a_channel_the_hub_stopped_sending_by_fails_and_nothing_is_sent(
        self, open_clinic, slot, clock, channel_calls, settings
    ):
        online.ask(open_clinic, slot, "fr", "Jean", "Roy", "sms", "+15145550111")
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "sms": None}
        assert send_due_messages()["failed"] == 1 and channel_calls == []
        message = Message.objects.get(kind="code")
        assert (message.state, message.reason, message.attempts, message.content) == ("failed", "no_channel", 0, "")

    def test_by_sms_in_french(self, open_clinic, slot, clock, channel_calls):
        request = online.ask(open_clinic, slot, "fr", "Jean", "Roy", "sms", "+15145550111")
        send_due_messages()
        [(_pk, channel, to, text)] = channel_calls
        assert (channel, to) == ("sms", "+15145550111")
        assert text == (
            f"Clinique du Parc : votre code pour prendre rendez-vous est {code_sent(request)}. "
            "Il est valide 10 minutes. Si vous n'avez rien demandé, ignorez ce message."
        )

    def test_a_code_not_sent_before_it_expires_is_withdrawn(self, open_clinic, slot, clock, channel_calls):
        online.ask(open_clinic, slot, "fr", "Jean", "Roy", "email", "jean@example.com")
        clock.shift(timedelta(minutes=10))
        assert send_due_messages()["withdrawn"] == 1 and channel_calls == []

    def test_wrong_then_right_opens_it_once(self, open_clinic, slot, clock):
        request = online.ask(open_clinic, slot, "fr", "Jean", "Roy", "email", "jean@example.com")
        assert online.verify(request.public_id, "000000" if code_sent(request) != "000000" else "1") == rules.WRONG
        assert online.verify(request.public_id, code_sent(request)) == rules.RIGHT
        assert online.verify(request.public_id, code_sent(request)) == rules.USED

    def test_five_wrong_codes_lock_the_request(self, open_clinic, slot, clock):
        request = online.ask(open_clinic, slot, "fr", "Jean", "Roy", "email", "jean@example.com")
        wrong = "1234567"  # seven digits: never the code
        assert [online.verify(request.public_id, wrong) for _ in range(5)] == [rules.WRONG] * 5
        assert online.verify(request.public_id, code_sent(request)) == rules.TOO_MANY

    def test_an_expired_code_opens_nothing(self, open_clinic, slot, clock):
        request = online.ask(open_clinic, slot, "fr", "Jean", "Roy", "email", "jean@example.com")
        clock.shift(timedelta(minutes=10))
        assert online.verify(request.public_id, code_sent(request)) == rules.EXPIRED

    def test_an_unknown_request_opens_nothing(self, db):
        assert online.verify("6f1c1b3e-0000-4000-8000-000000000000", "123456") == rules.WRONG


class TestBooking:
    def test_r20_it_books_in_the_pages_language_and_the_confirmation_follows_in_it(
        self, open_clinic, slot, patient, clock, channel_calls
    ):
        assert patient.language == "fr"
        appointment = online.book(verified(open_clinic, slot, language="en"), slot)
        assert (appointment.patient, appointment.source, appointment.booking_language) == (patient, "online_hub", "en")
        send_due_messages()
        confirmation = Message.objects.get(kind="confirmation")
        assert confirmation.language == "en" and confirmation.subject.startswith("Your appointment")

    def test_a_new_patient_is_created_with_the_verified_contact(self, open_clinic, slot, clock):
        request = verified(open_clinic, slot, channel="sms", contact="+15145550122", first="Anne", last="Gagnon")
        appointment = online.book(request, slot)
        anne = appointment.patient
        assert (anne.first_name, anne.last_name, anne.mobile, anne.email, anne.language, anne.clinic) == (
            "Anne",
            "Gagnon",
            "+15145550122",
            "",
            "en",
            open_clinic,
        )

    def test_a_shared_email_with_another_name_is_another_patient(self, open_clinic, slot, patient, clock):
        appointment = online.book(verified(open_clinic, slot, first="Léa"), slot)
        assert appointment.patient != patient and Patient.objects.count() == 2

    def test_the_name_matches_whatever_the_case_and_accents(self, open_clinic, slot, clock):
        helene = make_patient(open_clinic, first_name="Hélène", last_name="Côté", email="hc@example.com")
        appointment = online.book(
            verified(open_clinic, slot, contact="HC@example.com", first="helene", last="COTE"), slot
        )
        assert appointment.patient == helene

    def test_another_clinics_patient_is_never_matched(self, open_clinic, slot, clock):
        elsewhere = make_patient(make_clinic("Clinique du Nord"))
        appointment = online.book(verified(open_clinic, slot), slot)
        assert appointment.patient != elsewhere and appointment.patient.clinic == open_clinic

    def test_a_request_books_once(self, open_clinic, service, professional, slot, clock):
        request = verified(open_clinic, slot)
        first = online.book(request, slot)
        again = online.book(request, make_slot(professional, service, slot.start + timedelta(days=1)))
        assert again == first and Appointment.objects.count() == 1  # a second click shows the first booking

    def test_a_slot_taken_meanwhile_is_not_bookable_and_another_may_be_chosen(
        self, open_clinic, service, professional, slot, patient, clock
    ):
        request = verified(open_clinic, slot, first="Anne")
        book(slot, patient)
        with pytest.raises(online.NotBookable):
            online.book(request, slot)
        later = make_slot(professional, service, slot.start + timedelta(days=1))
        assert online.book(request, later).slot == later

    def test_a_verified_request_may_choose_for_30_minutes(self, open_clinic, slot, clock):
        request = verified(open_clinic, slot)
        clock.shift(timedelta(minutes=30))
        with pytest.raises(online.NotBookable):
            online.book(request, slot)

    def test_an_unverified_request_books_nothing(self, open_clinic, slot, clock):
        request = online.ask(open_clinic, slot, "fr", "Jean", "Roy", "email", "jean@example.com")
        with pytest.raises(online.NotBookable):
            online.book(request, slot)

    def test_a_slot_of_another_clinic_is_never_booked(self, open_clinic, slot, clock):
        elsewhere = make_clinic("Clinique du Nord", online_booking=True, booking_address="nord")
        theirs = make_slot(make_professional(elsewhere), make_service(elsewhere, online_booking=True), slot.start)
        with pytest.raises(online.NotBookable):
            online.book(verified(open_clinic, slot), theirs)

    def test_a_service_closed_to_online_booking_is_not_bookable(self, open_clinic, service, slot, clock):
        request = verified(open_clinic, slot)
        service.online_booking = False
        service.save()
        with pytest.raises(online.NotBookable):
            online.book(request, slot)

    def test_a_patient_holds_at_most_two_upcoming_online_bookings(
        self, open_clinic, service, professional, slot, patient, clock, settings
    ):
        assert settings.HUB_ONLINE_BOOKINGS_PER_PATIENT == 2
        for days in (1, 2):
            extra = make_slot(professional, service, slot.start + timedelta(days=days))
            book(extra, patient, source="online_hub", booking_language="fr")
        with pytest.raises(online.TooManyBookings):
            online.book(verified(open_clinic, slot), slot)

    def test_one_email_holds_at_most_six_upcoming_online_bookings_whatever_the_names(
        self, open_clinic, service, professional, slot, clock, settings
    ):
        # A family shares an email; a script typing a new name each time
        # would otherwise fill the clinic's day with one verified address.
        assert settings.HUB_ONLINE_BOOKINGS_PER_CONTACT == 6
        names = ["Léa", "Noé", "Zoé", "Éli", "Ana", "Max", "Théo"]
        slots = [make_slot(professional, service, slot.start + timedelta(hours=hour)) for hour in range(1, 8)]
        for name, each in zip(names[:6], slots, strict=False):
            online.book(verified(open_clinic, each, contact="Famille@Example.com", first=name), each)
        with pytest.raises(online.TooManyBookings):
            online.book(verified(open_clinic, slots[6], contact="famille@example.com", first=names[6]), slots[6])
        # A cancelled one no longer counts; another email is another count.
        first = Appointment.objects.get(patient__first_name="Léa")
        first.status = Appointment.Status.CANCELLED
        first.save()
        online.book(verified(open_clinic, slots[6], contact="famille@example.com", first=names[6]), slots[6])
        other = make_slot(professional, service, slot.start + timedelta(hours=9))
        online.book(verified(open_clinic, other, contact="roy@example.com"), other)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_bookings_at_once_with_one_email_count_one_after_the_other(
    open_clinic, service, professional, slot, clock, settings, monkeypatch
):
    postgres_only(connection)  # SQLite serialises writers: there is no race to test
    settings.HUB_ONLINE_BOOKINGS_PER_CONTACT = 1
    other = make_slot(professional, service, slot.start + timedelta(hours=1))
    requests = [verified(open_clinic, each, first=name) for each, name in ((slot, "Léa"), (other, "Noé"))]
    # Each booking waits, once it has counted, for the other to have
    # counted too: without a lock on the contact, both count 0 and both book.
    both_counted = threading.Barrier(2, timeout=2)
    counted = online.upcoming_by_contact

    def count_then_wait(request):
        found = counted(request)
        try:
            both_counted.wait()
        except threading.BrokenBarrierError:
            pass  # the other waits for this booking to commit: as it should
        return found

    monkeypatch.setattr(online, "upcoming_by_contact", count_then_wait)
    outcomes = []

    def attempt(request, each):
        try:
            online.book(request, each)
            outcomes.append("booked")
        except online.TooManyBookings:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(requests, (slot, other), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "refused"]
    assert Appointment.objects.filter(source="online_hub").count() == 1


def test_d19_requests_are_forgotten_after_the_retention_period_and_their_booking_stays(
    open_clinic, slot, clock, settings
):
    appointment = online.book(verified(open_clinic, slot), slot)
    clock.shift(timedelta(days=settings.HUB_RETENTION_DAYS) - timedelta(seconds=1))
    assert online.forget_old_requests() == 0
    clock.shift(timedelta(seconds=2))
    assert online.forget_old_requests() == 1
    assert not BookingRequest.objects.exists() and Appointment.objects.filter(pk=appointment.pk).exists()


def test_the_page_shows_the_12_soonest_free_times(open_clinic, service, professional, clock):
    slots = [make_slot(professional, service, NOW + timedelta(days=1, hours=hours)) for hours in range(13)]
    assert list(online.free_slots(service)) == slots[:12]


def test_asking_for_a_code_wakes_the_worker_to_send_it_at_once(open_clinic, slot, clock, monkeypatch):
    woken = []
    monkeypatch.setattr(online, "wake_the_worker_after_commit", lambda: woken.append(1))
    online.ask(open_clinic, slot, "fr", "Jean", "Roy", "email", "jean@example.com")
    assert woken == [1]
