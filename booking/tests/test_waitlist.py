"""The waiting list (D20): a freed slot is offered, the first to accept gets it."""

import threading
from datetime import date, datetime, timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test import override_settings
from django.utils import translation

from booking import offers, waitlist
from booking.models import BookingRequest, Offer, WaitlistEntry
from booking.tests.conftest import NOW
from confirmations.replies import understand_waiting
from conftest import TORONTO, book, make_patient, make_professional, make_service, make_slot, postgres_only
from outbox.dispatch import send_due_messages
from outbox.models import Message, Reply
from outbox.tests.webhook_cases import post_signed
from schedules.models import Appointment, Slot

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 3)  # the shared slot's day
DAY_START = datetime(2026, 12, 3, tzinfo=TORONTO)


def wait(
    clinic, service, name: str, professional=None, earliest=DAY, latest=DAY, since=NOW - timedelta(days=1), **contact
):
    """A patient staff put on the waiting list, waiting `since` (by default
    the day before: D21, the times freed or made today are hers to be offered)."""
    contact = contact or {"email": f"{name.lower()}@example.com"}
    patient = make_patient(clinic, first_name=name, **contact)
    entry = WaitlistEntry.objects.create(
        clinic=clinic, patient=patient, service=service, professional=professional, earliest=earliest, latest=latest
    )
    entry.waits_since = since or entry.waits_since
    entry.save()
    return entry


@pytest.fixture
def freed(slot, clinic, clock, monkeypatch, django_capture_on_commit_callbacks):
    """The shared slot, booked then cancelled (its patient called the clinic)."""
    appointment = book(slot, make_patient(clinic, first_name="Paul", email="paul@example.com"))
    queued = []
    monkeypatch.setattr(waitlist, "queue", lambda task, *args: queued.append((task, *args)))
    appointment.status = Appointment.Status.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        appointment.save()
    return queued


def accept_link(offer) -> str:
    return f"/rendez-vous/offre/{offers.token(offer)}/"


class TestOffering:
    def test_a_cancellation_offers_the_slot_to_the_first_three_matching_patients(
        self, clinic, service, professional, slot, freed, django_capture_on_commit_callbacks, channel_calls
    ):
        other = make_professional(clinic, first_name="Julie")
        first, second = wait(clinic, service, "Anne"), wait(clinic, service, "Bob", professional=professional)
        wait(clinic, service, "Carl", professional=other)  # another professional
        wait(clinic, make_service(clinic, name_fr="Vaccin"), "Dora")  # another service
        wait(clinic, service, "Eve", earliest=DAY + timedelta(days=1), latest=DAY + timedelta(days=9))  # not then
        fourth = wait(clinic, service, "Fay", mobile="+15145550166", email="")
        fifth = wait(clinic, service, "Gus")
        assert waitlist.offer_slot(slot.pk) == 3
        assert [offer.entry for offer in Offer.objects.all()] == [first, second, fourth]
        assert fifth.offers.count() == 0
        assert waitlist.offer_slot(slot.pk) == 0  # one round at a time
        send_due_messages()
        email = Message.objects.get(kind="offer", patient=first.patient)
        assert (
            email.subject
            == "Clinique du Parc\u00a0: une plage s’est libérée le jeudi 3 décembre 2026 à 14\u00a0h\u00a030"
        )
        assert "/rendez-vous/offre/" in email.content
        text = Message.objects.get(kind="offer", patient=fourth.patient).content
        assert "Pour la prendre, répondez OUI." in text

    def test_a_cancellation_queues_the_offer_once_it_commits_when_someone_waits(
        self, clinic, service, slot, clock, monkeypatch, django_capture_on_commit_callbacks
    ):
        wait(clinic, service, "Anne")
        appointment = book(slot, make_patient(clinic, first_name="Paul"))
        queued = []
        monkeypatch.setattr(waitlist, "queue", lambda task, *args: queued.append((task, *args)))
        appointment.status = Appointment.Status.CANCELLED
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            appointment.save()
        assert queued == []  # not before the commit
        for callback in callbacks:
            callback()
        assert queued == [("booking.tasks.offer_slot", slot.pk)]

    def test_a_deleted_appointment_is_offered_at_once_and_a_new_slot_within_the_minute(
        self, clinic, service, professional, patient, clock, monkeypatch, django_capture_on_commit_callbacks
    ):
        queued = []
        monkeypatch.setattr(waitlist, "queue", lambda task, *args: queued.append(args[0]))
        new = make_slot(professional, service, NOW + timedelta(days=3))
        appointment = book(new, patient)
        with django_capture_on_commit_callbacks(execute=True):
            appointment.delete()
        assert queued == []  # nobody waits for it
        wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date() + timedelta(days=9))
        appointment = book(new, patient)
        with django_capture_on_commit_callbacks(execute=True):
            appointment.delete()
        assert queued == [new.pk]
        newer = make_slot(professional, service, NOW + timedelta(days=4))
        assert waitlist.waitlist_pass() == 2  # the freed one (its task lost here) and the new one
        assert sorted(Offer.objects.values_list("slot_id", flat=True)) == [new.pk, newer.pk]

    def test_an_offer_ends_after_two_hours_but_never_past_the_booking_notice(
        self, clinic, service, professional, clock, settings
    ):
        assert settings.HUB_WAITLIST_OFFER_MINUTES == 120
        soon = make_slot(professional, service, NOW + timedelta(hours=3))  # notice: 2 h
        later = make_slot(professional, service, NOW + timedelta(days=2))
        wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date() + timedelta(days=5))
        waitlist.offer_slot(soon.pk)
        waitlist.offer_slot(later.pk)
        assert [offer.expires_at for offer in Offer.objects.order_by("slot_start")] == [
            NOW + timedelta(hours=1),
            NOW + timedelta(hours=2),
        ]

    def test_a_slot_within_the_notice_is_not_offered(self, clinic, service, professional, clock):
        make_slot(professional, service, NOW + timedelta(hours=1))
        wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date())
        assert waitlist.waitlist_pass() == 0

    def test_a_patient_reachable_only_by_phone_is_passed_over(self, clinic, service, slot, freed):
        wait(clinic, service, "Anne", email="", phone="+14505550111")
        second = wait(clinic, service, "Bob")
        waitlist.offer_slot(slot.pk)
        assert [offer.entry for offer in Offer.objects.all()] == [second]


class TestAccepting:
    def test_the_first_to_accept_books_the_slot_and_the_second_is_told_it_is_taken(
        self, client, clinic, service, slot, freed, channel_calls
    ):
        anne, bob = wait(clinic, service, "Anne"), wait(clinic, service, "Bob")
        waitlist.offer_slot(slot.pk)
        first, second = Offer.objects.order_by("id")
        page = client.get(accept_link(first)).content.decode()
        assert "Voulez-vous ce rendez-vous" in page and "jeudi 3 décembre 2026 à 14\u00a0h\u00a030" in page
        assert client.post(accept_link(first)).status_code == 302
        appointment = Appointment.objects.get(slot=slot, status="booked")
        assert (appointment.patient, appointment.source) == (anne.patient, "waitlist")
        anne.refresh_from_db()
        assert (anne.state, anne.appointment) == ("booked", appointment)
        client.post(accept_link(second))
        assert "quelqu’un d’autre a pris cette plage" in client.get(accept_link(second)).content.decode()
        bob.refresh_from_db()
        assert bob.state == "waiting"
        send_due_messages()
        assert Message.objects.get(kind="confirmation", patient=anne.patient).state == "sent"

    def test_accepting_twice_books_once(self, client, clinic, service, slot, freed):
        wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        offer = Offer.objects.get()
        client.post(accept_link(offer))
        client.post(accept_link(offer))
        assert Appointment.objects.filter(slot=slot, status="booked").count() == 1

    def test_an_offer_expires_and_the_next_patients_are_offered(self, client, clinic, service, slot, freed, clock):
        anne = wait(clinic, service, "Anne")
        wait(clinic, service, "Bob")
        wait(clinic, service, "Carl")
        bob_and_later = [wait(clinic, service, name) for name in ("Dan", "Eve")]
        waitlist.offer_slot(slot.pk)
        clock.shift(timedelta(hours=2))
        assert waitlist.expire_offers() == 3
        assert [offer.entry for offer in Offer.objects.filter(state="open")] == bob_and_later
        first = anne.offers.get()
        client.post(accept_link(first))
        assert "Cette offre a pris fin" in client.get(accept_link(first)).content.decode()
        assert not Appointment.objects.filter(slot=slot, status="booked").exists()
        anne.refresh_from_db()
        assert anne.state == "waiting"

    def test_a_slot_booked_by_staff_meanwhile_is_taken(self, client, clinic, service, slot, freed, patient):
        wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        book(slot, patient)
        offer = Offer.objects.get()
        client.post(accept_link(offer))
        offer.refresh_from_db()
        assert offer.state == "taken"

    def test_an_offer_closed_before_it_is_sent_is_withdrawn(self, clinic, service, slot, freed, patient, channel_calls):
        wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        Offer.objects.update(state="taken")
        assert send_due_messages()["withdrawn"] == 1

    @pytest.mark.parametrize("token", ["x", "not.a:valid-token", "a" * 500])
    def test_a_tampered_link_is_not_found(self, client, db, token):
        assert client.get(f"/rendez-vous/offre/{token}/").status_code == 404


class TestBySms:
    @pytest.fixture
    def texted_offers(self, clinic, service, slot, freed, channel_calls, settings):
        settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
        settings.HUB_PUBLIC_URL = "https://hub.example.org"
        entries = [
            wait(clinic, service, "Anne", email="", mobile="+15145550161"),
            wait(clinic, service, "Bob", email="", mobile="+15145550162"),
        ]
        waitlist.offer_slot(slot.pk)
        send_due_messages()
        return entries

    def text(self, client, number, body, sid):
        post_signed(client, "/twilio/sms/", {"From": number, "Body": body, "MessageSid": sid})
        understand_waiting()
        return Reply.objects.get(provider_id=sid)

    def test_yes_takes_the_offer_and_a_late_oui_is_told_it_is_gone(self, client, slot, texted_offers, channel_calls):
        anne, bob = texted_offers
        assert self.text(client, "+15145550161", "Yes", "SM1").outcome == "offer_accepted"
        assert Appointment.objects.get(slot=slot, status="booked").patient == anne.patient
        assert self.text(client, "+15145550162", "Oui", "SM2").outcome == "offer_gone"
        send_due_messages()
        answer = Message.objects.get(kind="answer")
        assert (answer.to, answer.content) == (
            "+15145550162",
            "Clinique du Parc : désolé, cette plage n'est plus disponible. Vous restez sur la liste d'attente.",
        )
        bob.refresh_from_db()
        assert bob.state == "waiting"


class TestFoundInReview:
    def test_an_entry_booked_from_one_offer_cannot_accept_another(self, client, clinic, service, professional, freed):
        entry = wait(clinic, service, "Anne", latest=DAY + timedelta(days=1))
        other = make_slot(professional, service, NOW + timedelta(days=10, hours=24))  # the next day
        for slot_id in Appointment.objects.values_list("slot_id", flat=True):
            waitlist.offer_slot(slot_id)
        waitlist.offer_slot(other.pk)
        first, second = entry.offers.order_by("id")
        assert waitlist.accept(first.pk) == "accepted"
        second.refresh_from_db()
        assert second.state == "withdrawn" and waitlist.accept(second.pk) == "withdrawn"
        assert Appointment.objects.filter(patient=entry.patient, status="booked").count() == 1

    def test_an_entry_taken_off_the_list_books_nothing(self, clinic, service, slot, freed):
        entry = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        entry.state = WaitlistEntry.State.REMOVED
        entry.save()
        assert waitlist.accept(Offer.objects.get().pk) == "withdrawn"
        assert not Appointment.objects.filter(slot=slot, status="booked").exists()

    def test_a_patient_already_booked_at_that_time_is_not_offered_it(self, clinic, service, slot, freed):
        busy = wait(clinic, service, "Anne")
        elsewhere = make_slot(make_professional(clinic, first_name="Julie"), service, slot.start)
        book(elsewhere, busy.patient)
        second = wait(clinic, service, "Bob")
        waitlist.offer_slot(slot.pk)
        assert [offer.entry for offer in Offer.objects.all()] == [second]

    def test_the_pass_finds_a_free_slot_far_in_the_window(self, clinic, service, professional, clock):
        for days in range(1, 5):
            make_slot(professional, service, NOW + timedelta(days=days))
        far = make_slot(professional, service, NOW + timedelta(days=20))
        wait(clinic, service, "Anne", earliest=far.start.date(), latest=far.start.date())
        assert waitlist.waitlist_pass() == 1
        assert Offer.objects.get().slot == far

    def test_an_offer_goes_by_a_channel_this_hub_sends_by(self, clinic, service, slot, freed, settings):
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": None}
        wait(clinic, service, "Anne", mobile="+15145550161")
        waitlist.offer_slot(slot.pk)
        assert Message.objects.get(kind="offer").channel == "sms"

    def test_a_clinic_not_connected_to_the_hub_offers_nothing(self, clinic, service, slot, freed):
        clinic.hub_connected = False
        clinic.save()
        wait(clinic, service, "Anne")
        assert waitlist.offer_slot(slot.pk) == 0


def test_r27_a_yes_after_an_offer_is_over_confirms_the_appointment_an_earlier_sms_announced(
    client, clinic, service, professional, slot, freed, channel_calls, settings
):
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.HUB_PUBLIC_URL = "https://hub.example.org"
    bob = wait(clinic, service, "Bob", email="", mobile="+15145550162")
    his = book(make_slot(professional, service, NOW + timedelta(days=12)), bob.patient)
    send_due_messages()  # his confirmation, by SMS
    waitlist.offer_slot(slot.pk)
    send_due_messages()  # then the offer
    Offer.objects.update(state="taken")
    post_signed(client, "/twilio/sms/", {"From": "+15145550162", "Body": "OUI", "MessageSid": "SM9"})
    understand_waiting()
    his.refresh_from_db()
    assert (Reply.objects.get().outcome, his.status) == ("confirmed", "confirmed_sms")


def test_r20_a_patient_who_joined_from_the_english_page_gets_the_offer_and_the_booking_in_english(
    client, clinic, service, slot, freed, channel_calls
):
    entry = wait(clinic, service, "Anne")  # her record says French
    entry.language, entry.added_by = "en", "patient"
    entry.save()
    waitlist.offer_slot(slot.pk)
    send_due_messages()
    offer = Message.objects.get(kind="offer")
    assert offer.language == "en" and offer.subject.startswith("Clinique du Parc: a time is free on Thursday")
    assert waitlist.accept(Offer.objects.get().pk) == "accepted"
    assert Appointment.objects.get(slot=slot, status="booked").booking_language == "en"


def test_moving_an_appointment_to_another_slot_frees_the_first_and_deleting_a_cancelled_one_frees_nothing(
    clinic, service, professional, slot, patient, clock, monkeypatch, django_capture_on_commit_callbacks
):
    wait(clinic, service, "Anne", earliest=NOW.date(), latest=DAY + timedelta(days=9))
    queued = []
    monkeypatch.setattr(waitlist, "queue", lambda task, *args: queued.append(args[0]))
    appointment = book(slot, patient)
    later = make_slot(professional, service, slot.start + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        appointment.move_to(later)
    assert queued == [slot.pk]
    appointment.refresh_from_db()
    appointment.status = Appointment.Status.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        appointment.save()
    assert queued == [slot.pk, later.pk]
    with django_capture_on_commit_callbacks(execute=True):
        appointment.delete()  # already free since its cancellation
    assert queued == [slot.pk, later.pk]


def test_r20_a_staff_added_entry_gets_its_offer_in_the_language_the_record_says_when_it_is_sent(
    clinic, service, slot, freed, channel_calls
):
    entry = wait(clinic, service, "Anne")  # added by staff: no page language; her record says French
    waitlist.offer_slot(slot.pk)
    entry.patient.language = "en"
    entry.patient.save()
    send_due_messages()
    offer = Message.objects.get(kind="offer")
    assert (offer.state, offer.language, offer.attempts) == ("sent", "en", 1)
    assert offer.subject.startswith("Clinique du Parc: a time is free on Thursday")


def test_an_offer_by_a_channel_the_hub_stopped_sending_by_fails_and_nothing_is_sent(
    clinic, service, slot, freed, channel_calls, settings
):
    wait(clinic, service, "Anne")
    waitlist.offer_slot(slot.pk)
    settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": None}
    send_due_messages()
    offer = Message.objects.get(kind="offer")
    assert (offer.state, offer.reason, offer.attempts, offer.content) == ("failed", "no_channel", 0, "")
    assert [call for call in channel_calls if call[0] == offer.pk] == []


class TestFoundTryingItAsAPatient:
    """Issue 22: false offers, a patient on the list twice, the booking's source."""

    def test_d21_an_offer_goes_only_for_a_time_freed_or_made_after_joining(
        self, clinic, service, professional, patient, clock
    ):
        make_slot(professional, service, NOW + timedelta(days=2))  # free all along
        held = make_slot(professional, service, NOW + timedelta(days=3))
        appointment = book(held, patient)
        clock.shift(timedelta(minutes=1))
        anne = wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date() + timedelta(days=9), since=None)
        assert waitlist.waitlist_pass() == 0  # every free time was on her screen when she joined
        clock.shift(timedelta(minutes=1))
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        later = make_slot(professional, service, NOW + timedelta(days=4))
        assert waitlist.waitlist_pass() == 2
        assert sorted(anne.offers.values_list("slot_id", flat=True)) == [held.pk, later.pk]

    @pytest.mark.parametrize(
        "language, said",
        [
            ("fr", "Cette offre a pris fin\u202f: vous avez déjà pris un rendez-vous grâce à la liste d’attente"),
            ("en", "This offer has ended: you already booked an appointment from the waiting list"),
        ],
    )
    def test_after_taking_one_offer_her_other_offers_say_she_already_booked(
        self, client, clinic, service, professional, patient, clock, language, said
    ):
        anne = wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date() + timedelta(days=9))
        clock.shift(timedelta(minutes=1))
        first, second = (make_slot(professional, service, NOW + timedelta(days=days)) for days in (3, 4))
        waitlist.waitlist_pass()
        taken, other = anne.offers.order_by("slot_start")
        assert waitlist.accept(taken.pk) == "accepted"
        page = client.get(f"{accept_link(other)}?lang={language}").content.decode()
        assert said in page
        assert "liste d’attente." not in page.replace(said, "") and "waiting list." not in page.replace(said, "")
        assert "Vous restez" not in page and "You stay" not in page
        assert (first.pk, second.pk) == (taken.slot_id, other.slot_id)

    def test_d21_joining_twice_online_widens_one_entry_and_a_freed_time_is_offered_once(
        self, open_clinic, service, professional, slot, clock
    ):
        from booking.models import BookingRequest

        def join(earliest, latest, **fields):
            request = BookingRequest.objects.create(
                clinic=open_clinic, language="fr", first_name="Anne", last_name="Roy", contact_channel="email",
                contact="anne@example.com", expires_at=NOW, verified_at=NOW, service=service,
                earliest=earliest, latest=latest, **fields,
            )  # fmt: skip
            return waitlist.join_from_request(request)

        first = join(DAY - timedelta(days=2), DAY)
        second = join(DAY, DAY + timedelta(days=5), professional=professional)
        assert WaitlistEntry.objects.filter(state="waiting").count() == 1
        first.refresh_from_db()
        assert (second, first.earliest, first.latest) == (first, DAY - timedelta(days=2), DAY + timedelta(days=5))
        assert first.professional is None  # any professional, as she first asked
        clock.shift(timedelta(minutes=1))
        appointment = book(slot, make_patient(open_clinic, first_name="Paul"))
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        assert waitlist.offer_slot(slot.pk) == 1

    def test_d21_staff_adding_a_patient_already_waiting_widens_her_entry(self, staff, clinic, service, clock):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=2))
        form = {
            "clinic": clinic.pk, "patient": anne.patient.pk, "service": service.pk, "professional": "",
            "earliest": DAY - timedelta(days=3), "latest": DAY + timedelta(days=1), "state": "waiting",
            "offers-TOTAL_FORMS": 0, "offers-INITIAL_FORMS": 0,
        }  # fmt: skip
        response = staff.post("/admin/booking/waitlistentry/add/", form)
        assert response.status_code == 302, response.content.decode()[:3000]
        entry = WaitlistEntry.objects.get()
        assert (entry.pk, entry.earliest, entry.latest) == (anne.pk, DAY - timedelta(days=3), DAY + timedelta(days=2))

    def test_staff_adding_a_patient_no_offer_can_reach_are_told_so(self, staff, clinic, service, clock):
        """Offers go by email or SMS: a patient with a landline alone would
        wait in silence."""
        landline = make_patient(clinic, first_name="Luc", email="", mobile="", phone="+15145550123")
        form = {
            "clinic": clinic.pk, "patient": landline.pk, "service": service.pk, "professional": "",
            "earliest": DAY, "latest": DAY + timedelta(days=1), "state": "waiting",
            "offers-TOTAL_FORMS": 0, "offers-INITIAL_FORMS": 0,
        }  # fmt: skip
        response = staff.post("/admin/booking/waitlistentry/add/", form, follow=True, HTTP_ACCEPT_LANGUAGE="en")
        assert WaitlistEntry.objects.filter(patient=landline).exists()
        assert "no email or mobile that offers can go to" in response.content.decode()

    def test_a_time_taken_from_a_staff_added_entry_is_recorded_from_the_waiting_list_and_handled_by_the_hub(
        self, clinic, service, slot, freed
    ):
        assert not service.online_booking
        anne = wait(clinic, service, "Anne")  # added by staff
        waitlist.offer_slot(slot.pk)
        assert waitlist.accept(anne.offers.get().pk) == "accepted"
        appointment = Appointment.objects.get(slot=slot, status="booked")
        with translation.override("en"):
            assert appointment.get_source_display() == "from the waiting list, added by staff"
        assert appointment.source == "waitlist"
        assert appointment.hub_reason == ""  # R4: like a staff booking
        assert Message.objects.filter(kind="confirmation", appointment=appointment).exists()

    def test_d21_a_free_slot_whose_time_staff_change_is_a_new_time_for_the_list(
        self, clinic, service, professional, clock
    ):
        slot = make_slot(professional, service, NOW + timedelta(days=3))
        clock.shift(timedelta(minutes=1))
        anne = wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date() + timedelta(days=9), since=None)
        assert waitlist.waitlist_pass() == 0
        clock.shift(timedelta(minutes=1))
        slot.start, slot.end = slot.start + timedelta(hours=1), slot.end + timedelta(hours=1)
        slot.save()
        assert waitlist.waitlist_pass() == 1
        assert anne.offers.get().slot_start == slot.start

    def test_a_slot_free_since_before_the_hub_kept_it_is_offered_only_once_freed_again(
        self, clinic, service, slot, freed
    ):
        wait(clinic, service, "Anne")
        Slot.objects.filter(pk=slot.pk).update(free_since=None)  # a slot made before migration 0014
        assert waitlist.offer_slot(slot.pk) == 0

    def test_d21_a_patient_on_the_list_twice_from_before_is_offered_a_time_once(
        self, clinic, service, slot, freed, channel_calls
    ):
        anne = wait(clinic, service, "Anne")
        WaitlistEntry.objects.create(  # made before entries were merged
            clinic=clinic, patient=anne.patient, service=service, earliest=DAY, latest=DAY, waits_since=anne.waits_since
        )
        bob = wait(clinic, service, "Bob")
        assert waitlist.offer_slot(slot.pk) == 2
        assert sorted(offer.entry.patient.first_name for offer in Offer.objects.all()) == ["Anne", "Bob"]
        clock_offers = Offer.objects.filter(entry__patient=anne.patient)
        assert clock_offers.count() == 1 and bob.offers.count() == 1

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_an_offer_to_a_patient_taken_off_the_list_says_only_that_it_ended(
        self, client, clinic, service, slot, freed, language
    ):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        anne.state = WaitlistEntry.State.REMOVED
        anne.save()
        client.post(accept_link(anne.offers.get()))
        page = client.get(f"{accept_link(anne.offers.get())}?lang={language}").content.decode()
        assert {"fr": "Cette offre a pris fin.</p>", "en": "This offer has ended.</p>"}[language] in page
        assert not Appointment.objects.filter(slot=slot, status="booked").exists()


class TestOneEntryAPatient:
    """D21: one patient, one service, overlapping dates: one entry (waitlist.join)."""

    def entry(self, patient, service, earliest, latest, **fields):
        return WaitlistEntry(
            clinic=patient.clinic, patient=patient, service=service, earliest=earliest, latest=latest, **fields
        )

    def test_an_entry_overlapping_two_merges_them_into_the_oldest_with_their_offers(
        self, clinic, service, patient, slot, freed, clock
    ):
        first = waitlist.join(self.entry(patient, service, DAY, DAY + timedelta(days=2)))
        clock.shift(timedelta(minutes=1))
        second = waitlist.join(self.entry(patient, service, DAY + timedelta(days=4), DAY + timedelta(days=6)))
        assert first != second  # apart: two entries
        offer = Offer.objects.create(entry=second, slot=slot, slot_start=slot.start, expires_at=NOW)
        clock.shift(timedelta(minutes=1))
        kept = waitlist.join(self.entry(patient, service, DAY + timedelta(days=1), DAY + timedelta(days=5)))
        assert kept == first
        kept.refresh_from_db()
        second.refresh_from_db()
        offer.refresh_from_db()
        assert (kept.earliest, kept.latest, kept.state) == (DAY, DAY + timedelta(days=6), "waiting")
        assert (kept.waits_since, second.state, offer.entry) == (NOW + timedelta(minutes=2), "removed", kept)

    def test_an_edited_entry_is_merged_into_an_older_one_it_now_overlaps(self, clinic, service, patient, clock):
        older = waitlist.join(self.entry(patient, service, DAY, DAY))
        clock.shift(timedelta(minutes=1))
        newer = waitlist.join(self.entry(patient, service, DAY + timedelta(days=3), DAY + timedelta(days=3)))
        newer.earliest = DAY
        assert waitlist.join(newer) == older
        newer.refresh_from_db()
        assert newer.state == "removed"
        older.refresh_from_db()
        assert (older.earliest, older.latest) == (DAY, DAY + timedelta(days=3))

    def test_another_service_other_dates_or_an_entry_no_longer_waiting_stay_apart(
        self, clinic, service, patient, clock
    ):
        first = waitlist.join(self.entry(patient, service, DAY, DAY + timedelta(days=1)))
        vaccine = make_service(clinic, name_fr="Vaccin")
        others = [
            self.entry(patient, vaccine, DAY, DAY),
            self.entry(patient, service, DAY + timedelta(days=2), DAY + timedelta(days=3)),
            self.entry(patient, service, DAY + timedelta(days=1), DAY + timedelta(days=1), state="removed"),
            self.entry(make_patient(clinic, first_name="Bob"), service, DAY, DAY),
        ]
        assert all(waitlist.join(other) == other for other in others)
        first.refresh_from_db()
        assert (first.earliest, first.latest, WaitlistEntry.objects.count()) == (DAY, DAY + timedelta(days=1), 5)

    def test_the_same_professional_is_kept_the_latest_page_language_wins_and_a_patients_join_counts(
        self, clinic, service, patient, professional
    ):
        first = waitlist.join(self.entry(patient, service, DAY, DAY, professional=professional, language="fr"))
        waitlist.join(self.entry(patient, service, DAY, DAY, professional=professional))  # staff again
        first.refresh_from_db()
        assert (first.language, first.added_by) == ("fr", "staff")
        waitlist.join(
            self.entry(patient, service, DAY, DAY, professional=professional, language="en", added_by="patient")
        )
        waitlist.join(self.entry(patient, service, DAY, DAY, professional=professional))  # staff: no page language
        first.refresh_from_db()
        assert (first.professional, first.language, first.added_by) == (professional, "en", "patient")
        waitlist.join(self.entry(patient, service, DAY, DAY))  # any professional
        first.refresh_from_db()
        assert first.professional is None

    def test_staff_changing_what_an_entry_waits_for_hides_the_times_free_then(self, staff, clinic, service, clock):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY)
        form = {
            "clinic": clinic.pk, "patient": anne.patient.pk, "service": service.pk, "professional": "",
            "earliest": DAY, "latest": DAY + timedelta(days=2), "state": "waiting",
            "offers-TOTAL_FORMS": 0, "offers-INITIAL_FORMS": 0,
        }  # fmt: skip
        assert staff.post(f"/admin/booking/waitlistentry/{anne.pk}/change/", form).status_code == 302
        anne.refresh_from_db()
        assert (anne.latest, anne.waits_since) == (DAY + timedelta(days=2), NOW)


class TestTheWaitingListsTests:
    """Issue 22, item 21: what the outside mutation run found untested."""

    def test_the_pass_each_minute_ends_offers_past_their_time_and_offers_the_next(
        self, clinic, service, slot, freed, clock
    ):
        anne, bob = wait(clinic, service, "Anne"), wait(clinic, service, "Bob")
        with override_settings(HUB_WAITLIST_OFFERS_AT_ONCE=1):
            assert waitlist.offer_slot(slot.pk) == 1
            clock.shift(timedelta(hours=2) - timedelta(seconds=1))
            assert waitlist.waitlist_pass() == 0
            assert anne.offers.get().state == "open"
            clock.shift(timedelta(seconds=1))
            assert waitlist.waitlist_pass() == 0  # the next one is made by the slot's new round
        assert anne.offers.get().state == "expired"
        assert bob.offers.get().state == "open"

    def test_an_acceptance_after_the_offer_ended_but_before_the_pass_is_refused(
        self, client, clinic, service, slot, freed, clock
    ):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        offer = anne.offers.get()
        clock.shift(timedelta(hours=2))
        assert client.post(accept_link(offer)).status_code == 302
        offer.refresh_from_db()
        assert (offer.state, offer.answered_at) == ("expired", NOW + timedelta(hours=2))
        assert not Appointment.objects.filter(slot=slot, status="booked").exists()
        anne.refresh_from_db()
        assert anne.state == "waiting"

    def test_an_acceptance_a_moment_before_the_end_books(self, clinic, service, slot, freed, clock):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        clock.shift(timedelta(hours=2) - timedelta(seconds=1))
        assert waitlist.accept(anne.offers.get().pk) == "accepted"

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_accepting_an_offer_whose_slot_was_deleted_is_refused_cleanly(
        self, client, clinic, service, slot, freed, language
    ):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        offer = anne.offers.get()
        Appointment.objects.filter(slot=slot).delete()
        slot.delete()
        page = client.get(f"{accept_link(offer)}?lang={language}")
        assert page.status_code == 200 and "<button" not in page.content.decode()
        assert client.post(f"{accept_link(offer)}?lang={language}").status_code == 302
        offer.refresh_from_db()
        assert offer.state == "withdrawn"
        assert {"fr": "Vous restez sur la liste d’attente", "en": "You stay on the waiting list"}[language] in (
            client.get(f"{accept_link(offer)}?lang={language}").content.decode()
        )
        assert not Appointment.objects.exclude(status="cancelled").exists()

    def test_accepting_an_offer_whose_slot_was_moved_is_refused_and_the_new_time_offered_anew(
        self, client, clinic, service, slot, freed, clock, channel_calls
    ):
        anne, bob = wait(clinic, service, "Anne"), wait(clinic, service, "Bob")
        with override_settings(HUB_WAITLIST_OFFERS_AT_ONCE=1):
            waitlist.offer_slot(slot.pk)
            first = anne.offers.get()
            clock.shift(timedelta(minutes=1))
            slot.start, slot.end = slot.start + timedelta(hours=1), slot.end + timedelta(hours=1)
            slot.save()
            send_due_messages()  # the offer of the old time is not sent
            assert Message.objects.get(kind="offer").state == "withdrawn"
            assert "<button" not in client.get(accept_link(first)).content.decode()
            assert waitlist.accept(first.pk) == "withdrawn"
            assert not Appointment.objects.filter(slot=slot, status="booked").exists()
            assert waitlist.waitlist_pass() == 1  # the new time, to the first waiting
        new = Offer.objects.get(state="open")
        assert (new.entry, new.slot_start, bob.offers.exists()) == (anne, slot.start, False)

    def test_the_pass_ends_the_offers_of_a_time_the_slot_no_longer_has(self, clinic, service, slot, freed, clock):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        clock.shift(timedelta(minutes=1))
        slot.start, slot.end = slot.start + timedelta(hours=1), slot.end + timedelta(hours=1)
        slot.save()
        assert waitlist.offer_slot(slot.pk) == 1
        assert [(offer.slot_start, offer.state) for offer in anne.offers.order_by("id")] == [
            (slot.start - timedelta(hours=1), "withdrawn"),
            (slot.start, "open"),
        ]

    def test_accepting_closes_the_other_offers_of_the_slot_and_their_messages_never_go(
        self, clinic, service, slot, freed, channel_calls
    ):
        anne, bob, carl = (wait(clinic, service, name) for name in ("Anne", "Bob", "Carl"))
        assert waitlist.offer_slot(slot.pk) == 3
        assert waitlist.accept(anne.offers.get().pk) == "accepted"
        assert [entry.offers.get().state for entry in (bob, carl)] == ["taken", "taken"]
        send_due_messages()
        offers = Message.objects.filter(kind="offer")
        assert sorted(offers.values_list("to", "state")) == [
            ("anne@example.com", "withdrawn"),  # she has her appointment: no need to offer it
            ("bob@example.com", "withdrawn"),
            ("carl@example.com", "withdrawn"),
        ]
        assert [call for call in channel_calls if call[2] in ("bob@example.com", "carl@example.com")] == []

    def test_an_offer_needs_a_moment_before_the_booking_notice_closes(self, clinic, service, professional, clock):
        notice = service.online_booking_notice
        at_notice = make_slot(professional, service, NOW + notice)
        just_after = make_slot(professional, service, NOW + notice + timedelta(minutes=1))
        wait(clinic, service, "Anne", earliest=NOW.date(), latest=NOW.date())
        assert waitlist.offer_slot(at_notice.pk) == 0  # it would end as it is made
        assert waitlist.offer_slot(just_after.pk) == 1
        assert Offer.objects.get().expires_at == NOW + timedelta(minutes=1)

    def test_an_offer_wakes_the_worker_and_no_offer_does_not(self, clinic, service, slot, freed, monkeypatch):
        woken = []
        monkeypatch.setattr(waitlist, "wake_the_worker_after_commit", lambda: woken.append(1))
        assert waitlist.offer_slot(slot.pk) == 0  # nobody waits
        wait(clinic, service, "Anne")
        assert waitlist.offer_slot(slot.pk) == 1
        assert woken == [1]

    def test_a_slot_no_longer_free_is_not_offered(self, clinic, service, slot, freed, patient):
        wait(clinic, service, "Anne")
        book(slot, patient)
        assert waitlist.offer_slot(slot.pk) == 0
        assert not Offer.objects.exists()

    def test_a_booking_made_in_the_same_instant_takes_the_slot_from_the_offer(
        self, clinic, service, slot, freed, patient, monkeypatch
    ):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        book(slot, patient)
        monkeypatch.setattr(waitlist, "is_free", lambda slot, now: True)  # it was, a moment before
        assert waitlist.accept(anne.offers.get().pk) == "taken"
        assert (anne.offers.get().state, Appointment.objects.get(slot=slot, status="booked").patient) == (
            "taken",
            patient,
        )

    def test_the_pass_looks_up_to_the_last_day_of_the_window_and_no_further(self, clinic, service, professional, clock):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY)
        late = make_slot(professional, service, DAY_START.replace(hour=23, minute=30))
        make_slot(professional, service, DAY_START + timedelta(days=1))  # the next morning, at midnight
        assert waitlist.waitlist_pass() == 1
        assert anne.offers.get().slot == late

    def test_the_pass_offers_a_patient_the_three_soonest_new_times_at_once(self, clinic, service, professional, clock):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=3))
        slots = [make_slot(professional, service, DAY_START + timedelta(days=days, hours=9)) for days in range(4)]
        assert waitlist.waitlist_pass() == 3
        assert sorted(anne.offers.values_list("slot_id", flat=True)) == [slot.pk for slot in slots[:3]]

    def test_the_pass_looks_for_a_patients_times_up_to_her_last_day_not_after(
        self, clinic, service, professional, clock
    ):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=3))
        # Bob waits for the third day only: the pass looks for his times on
        # that day, not the day after (Anne's fourth time, not hers yet).
        bob = wait(clinic, service, "Bob", earliest=DAY + timedelta(days=2), latest=DAY + timedelta(days=2))
        slots = [make_slot(professional, service, DAY_START + timedelta(days=days, hours=9)) for days in range(4)]
        assert waitlist.waitlist_pass() == 4
        assert sorted(anne.offers.values_list("slot_id", flat=True)) == [slot.pk for slot in slots[:3]]
        assert list(bob.offers.values_list("slot_id", flat=True)) == [slots[2].pk]


class TestJoiningFromThePage:
    def request(self, open_clinic, **fields):
        from booking.models import BookingRequest

        fields = {"verified_at": NOW, **fields}
        return BookingRequest.objects.create(
            clinic=open_clinic, language="en", first_name="Anne", last_name="Roy", contact_channel="email",
            contact="anne@example.com", expires_at=NOW, earliest=DAY, latest=DAY, **fields,
        )  # fmt: skip

    def test_a_request_joins_once_whatever_the_clicks(self, open_clinic, service, clock):

        request = self.request(open_clinic, service=service)
        entry = waitlist.join_from_request(request)
        assert BookingRequest.objects.get(pk=request.pk).entry == entry  # the request says which entry it made
        assert waitlist.join_from_request(request) == entry
        assert (WaitlistEntry.objects.get(), entry.added_by, entry.language) == (entry, "patient", "en")

    @pytest.mark.parametrize("missing", ["verified_at", "service"])
    def test_a_request_unverified_or_without_a_service_joins_nothing(self, open_clinic, service, clock, missing):
        from booking import online

        with pytest.raises(online.NotBookable):
            waitlist.join_from_request(self.request(open_clinic, **{"service": service, missing: None}))
        assert not WaitlistEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_d21_two_joins_at_once_for_one_patient_make_one_entry(clinic, service, patient, monkeypatch):
    postgres_only(connection)  # SQLite serialises writers: there is no race to test
    # Each join waits, once it has looked for the patient's entries, for the
    # other to have looked too: without a lock on the patient, both find
    # none and both add one.
    both_looked = threading.Barrier(2, timeout=2)
    save = WaitlistEntry.save

    def look_then_wait(entry, *args, **kwargs):
        if entry.pk is None:
            try:
                both_looked.wait()
            except threading.BrokenBarrierError:
                pass  # the other waits for this join to commit: as it should
        return save(entry, *args, **kwargs)

    monkeypatch.setattr(WaitlistEntry, "save", look_then_wait)

    def join(earliest):
        try:
            entry = WaitlistEntry(
                clinic=clinic, patient=patient, service=service, earliest=earliest, latest=earliest + timedelta(days=2)
            )
            waitlist.join(entry)
        finally:
            connection.close()

    threads = [threading.Thread(target=join, args=(day,)) for day in (DAY, DAY + timedelta(days=1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entry = WaitlistEntry.objects.get(state="waiting")
    assert (entry.earliest, entry.latest) == (DAY, DAY + timedelta(days=3))


class TestTheOffersLink:
    @pytest.mark.parametrize("signed", [5, ["x"] * 36, "x" * 35, "x" * 37])
    def test_a_signed_token_that_names_no_offer_is_not_found(self, client, db, signed):
        token = signing.dumps(signed, salt=offers.SALT)
        assert offers.read(token) is None
        assert client.get(f"/rendez-vous/offre/{token}/").status_code == 404

    def test_at_the_minute_an_offer_ends_its_page_says_so_and_its_message_is_not_sent(
        self, client, clinic, service, slot, freed, clock, channel_calls
    ):
        anne = wait(clinic, service, "Anne")
        waitlist.offer_slot(slot.pk)
        clock.shift(timedelta(hours=2))
        page = client.get(accept_link(anne.offers.get())).content.decode()
        assert "Cette offre a pris fin" in page and "<button" not in page
        send_due_messages()
        assert Message.objects.get(kind="offer").state == "withdrawn"
