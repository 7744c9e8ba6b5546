"""The waiting list (D20, D21): what the second review found."""

import threading
from datetime import date, datetime, timedelta

import pytest
from django.db import connection

from booking import waitlist
from booking.models import Offer, WaitlistEntry
from booking.tests.conftest import NOW
from conftest import TORONTO, book, make_patient, make_slot, postgres_only
from schedules.models import Slot

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 3)
DAY_START = datetime(2026, 12, 3, tzinfo=TORONTO)


def wait(clinic, service, name: str, earliest=DAY, latest=DAY, since=NOW - timedelta(days=1), **fields):
    """A patient staff put on the waiting list `since` (by default the day
    before: the times freed or made today are hers to be offered, D21)."""
    patient = make_patient(clinic, first_name=name, email=f"{name.lower()}@example.com")
    entry = WaitlistEntry.objects.create(
        clinic=clinic, patient=patient, service=service, earliest=earliest, latest=latest, **fields
    )
    WaitlistEntry.objects.filter(pk=entry.pk).update(waits_since=since)
    entry.refresh_from_db()
    return entry


def at_once(*calls, before=None):
    """Runs each call in its own thread and connection, all at once; returns
    what each returned, or the exception it raised."""
    results = [None] * len(calls)

    def run(index, call):
        try:
            results[index] = call()
        except Exception as error:  # noqa: BLE001  (the test shows it)
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_patient_accepting_two_offers_at_once_books_one_and_the_other_is_refused_cleanly(
    clinic, service, professional, clock, monkeypatch
):
    postgres_only(connection)  # SQLite serialises writers: there is no race to test
    anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=1))
    for days in (0, 1):
        make_slot(professional, service, DAY_START + timedelta(days=days, hours=9))
    assert waitlist.waitlist_pass() == 2
    first, second = anne.offers.order_by("slot_start")
    # Each acceptance, once it has locked what it books with, waits a moment
    # for the other to have started: the other then holds its own offer.
    both_in = threading.Barrier(2, timeout=2)
    booked_as = waitlist.booked_as

    def wait_for_the_other(entry):
        try:
            both_in.wait()
        except threading.BrokenBarrierError:
            pass  # the other waits for this one to commit: as it should
        return booked_as(entry)

    monkeypatch.setattr(waitlist, "booked_as", wait_for_the_other)
    results = at_once(*(lambda offer=offer: waitlist.accept(offer.pk) for offer in (first, second)))
    assert sorted(map(str, results)) == ["accepted", "withdrawn"], results
    anne.refresh_from_db()
    assert anne.state == "booked" and anne.appointment is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_patient_joining_again_while_she_accepts_an_offer_neither_fails(
    clinic, service, professional, clock, monkeypatch
):
    postgres_only(connection)
    anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=1))
    make_slot(professional, service, DAY_START + timedelta(hours=9))
    assert waitlist.waitlist_pass() == 1
    offer = anne.offers.get()
    # The acceptance holds her entry when she joins again (the join then
    # waits for it); the acceptance goes on to book for her.
    holding = threading.Event()
    booked_as = waitlist.booked_as

    def hold_a_moment(entry):
        holding.set()
        threading.Event().wait(1.5)
        return booked_as(entry)

    monkeypatch.setattr(waitlist, "booked_as", hold_a_moment)

    def join_again():
        holding.wait(5)
        again = WaitlistEntry(
            clinic=clinic, patient=anne.patient, service=service, earliest=DAY, latest=DAY + timedelta(days=3)
        )
        return waitlist.join(again).state

    results = at_once(lambda: waitlist.accept(offer.pk), join_again)
    assert list(map(str, results)) == ["accepted", "waiting"], results
    assert Offer.objects.get(pk=offer.pk).state == "accepted"


class TestWideningTheWindow:
    """D21: a wider window hides only the times free, when she widened it,
    on the dates it adds."""

    def test_d21_widening_keeps_offering_on_her_first_dates_the_times_freed_since_she_joined(
        self, clinic, service, professional, clock
    ):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY)
        freed_for_her = make_slot(professional, service, DAY_START + timedelta(hours=9))  # not offered yet
        in_sight = make_slot(professional, service, DAY_START + timedelta(days=1, hours=9))  # free as she widens
        clock.shift(timedelta(minutes=1))
        again = WaitlistEntry(
            clinic=clinic, patient=anne.patient, service=service, earliest=DAY, latest=DAY + timedelta(days=2)
        )
        assert waitlist.join(again) == anne
        clock.shift(timedelta(minutes=1))
        made_after = make_slot(professional, service, DAY_START + timedelta(days=2, hours=9))
        assert waitlist.waitlist_pass() == 2
        offered = set(anne.offers.values_list("slot_id", flat=True))
        assert offered == {freed_for_her.pk, made_after.pk}
        assert in_sight.pk not in offered

    def form(self, entry, **changes) -> dict:
        form = {
            "clinic": entry.clinic_id, "patient": entry.patient_id, "service": entry.service_id, "professional": "",
            "earliest": entry.earliest, "latest": entry.latest, "state": "waiting",
            "offers-TOTAL_FORMS": 0, "offers-INITIAL_FORMS": 0,
        }  # fmt: skip
        return {**form, **changes}

    @pytest.mark.parametrize("change", ["narrower", "professional", "state"])
    def test_d21_staff_narrowing_or_changing_the_professional_or_state_keeps_her_place_in_time(
        self, staff, clinic, service, professional, clock, change
    ):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=2))
        changes = {
            "narrower": {"latest": DAY + timedelta(days=1)},
            "professional": {"professional": professional.pk},
            "state": {"state": "removed"},
        }[change]
        clock.shift(timedelta(minutes=5))
        assert (
            staff.post(f"/admin/booking/waitlistentry/{anne.pk}/change/", self.form(anne, **changes)).status_code == 302
        )
        since = anne.waits_since
        anne.refresh_from_db()
        assert anne.waits_since == since

    def test_d21_staff_widening_hides_only_the_times_free_then_on_the_added_dates(
        self, staff, clinic, service, professional, clock
    ):
        anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY)
        freed_for_her = make_slot(professional, service, DAY_START + timedelta(hours=9))
        in_sight = make_slot(professional, service, DAY_START + timedelta(days=1, hours=9))
        clock.shift(timedelta(minutes=1))
        form = self.form(anne, latest=DAY + timedelta(days=1))
        assert staff.post(f"/admin/booking/waitlistentry/{anne.pk}/change/", form).status_code == 302
        assert waitlist.waitlist_pass() == 1
        assert list(anne.offers.values_list("slot_id", flat=True)) == [freed_for_her.pk]
        assert in_sight.pk != freed_for_her.pk


@pytest.mark.parametrize("how", ["cancelled", "deleted"])
def test_d21_a_cancellation_frees_the_professionals_overlapping_slots_too_and_they_are_offered(
    clinic, service, professional, patient, clock, monkeypatch, django_capture_on_commit_callbacks, how
):
    held = make_slot(professional, service, DAY_START + timedelta(hours=9), minutes=30)
    overlapping = make_slot(professional, service, DAY_START + timedelta(hours=9, minutes=15), minutes=30)
    apart = make_slot(professional, service, DAY_START + timedelta(hours=10), minutes=30)
    appointment = book(held, patient)
    clock.shift(timedelta(minutes=1))
    anne = wait(clinic, service, "Anne", since=NOW + timedelta(minutes=1))
    clock.shift(timedelta(minutes=1))
    queued = []
    monkeypatch.setattr(waitlist, "queue", lambda task, *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        if how == "deleted":
            appointment.delete()
        else:
            appointment.status = "cancelled"
            appointment.save()
    assert sorted(queued) == sorted([(held.pk,), (overlapping.pk,)])
    assert Slot.objects.get(pk=overlapping.pk).free_since == NOW + timedelta(minutes=2)
    assert Slot.objects.get(pk=apart.pk).free_since == NOW
    assert waitlist.waitlist_pass() == 2
    assert set(anne.offers.values_list("slot_id", flat=True)) == {held.pk, overlapping.pk}


@pytest.mark.parametrize("first_offers", ["open", "expired"])
def test_the_pass_offers_a_patient_a_new_time_after_three_she_was_offered_already(
    clinic, service, professional, clock, first_offers
):
    anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=5))
    for days in range(3):
        make_slot(professional, service, DAY_START + timedelta(days=days, hours=9))
    assert waitlist.waitlist_pass() == 3
    if first_offers == "expired":
        clock.shift(timedelta(hours=3))
    later = make_slot(professional, service, DAY_START + timedelta(days=4, hours=9))
    assert waitlist.waitlist_pass() == 1
    assert anne.offers.filter(state="open").latest("slot_start").slot == later


# (An SMS is written in the GSM alphabet: "grâce" goes as "grace".)
@pytest.mark.parametrize(
    "language, then, said",
    [
        ("fr", "booked", "Clinique du Parc : cette offre a pris fin : vous avez déjà pris un rendez-vous grace à la liste d'attente."),
        ("en", "booked", "Clinique du Parc: this offer has ended: you already booked an appointment from the waiting list."),
        ("fr", "removed", "Clinique du Parc : cette offre a pris fin."),
        ("en", "removed", "Clinique du Parc: this offer has ended."),
    ],
)  # fmt: skip
def test_a_late_yes_after_she_booked_otherwise_or_left_the_list_is_not_told_she_stays_on_it(
    client, clinic, service, professional, clock, channel_calls, settings, language, then, said
):
    from confirmations.replies import understand_waiting
    from outbox.dispatch import send_due_messages
    from outbox.models import Message, Reply
    from outbox.tests.webhook_cases import post_signed

    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.HUB_PUBLIC_URL = "https://hub.example.org"
    anne = wait(clinic, service, "Anne", latest=DAY + timedelta(days=1))
    anne.patient.email, anne.patient.mobile, anne.patient.language = "", "+15145550161", language
    anne.patient.save()
    texted, other = (make_slot(professional, service, DAY_START + timedelta(days=days, hours=9)) for days in (0, 1))
    assert waitlist.offer_slot(texted.pk) == 1
    send_due_messages()
    if then == "booked":
        assert waitlist.offer_slot(other.pk) == 1
        assert waitlist.accept(anne.offers.get(slot=other).pk) == "accepted"
    else:
        anne.state = WaitlistEntry.State.REMOVED
        anne.save()
    post_signed(client, "/twilio/sms/", {"From": "+15145550161", "Body": "Yes", "MessageSid": "SM1"})
    understand_waiting()
    assert Reply.objects.get(provider_id="SM1").outcome == "offer_gone"
    send_due_messages()
    assert Message.objects.get(kind="answer").content == said


@pytest.mark.parametrize("change, new", [("end", False), ("start", True), ("service", True), ("professional", True)])
def test_d21_a_free_slot_is_a_new_time_only_when_its_start_service_or_professional_changes(
    clinic, service, professional, clock, change, new
):
    from conftest import make_professional, make_service

    slot = make_slot(professional, service, DAY_START + timedelta(hours=9))
    clock.shift(timedelta(minutes=1))
    if change == "end":
        slot.end += timedelta(minutes=5)
    elif change == "start":
        slot.start += timedelta(minutes=5)
    elif change == "service":
        slot.service = make_service(clinic, name_fr="Suivi", name_en="Follow-up")
    else:
        slot.professional = make_professional(clinic, last_name="Autre")
    slot.save()
    slot.refresh_from_db()
    assert slot.free_since == (NOW + timedelta(minutes=1) if new else NOW)


def test_d21_slots_on_offer_when_the_hub_learned_free_since_count_as_freed_at_their_first_offer(
    clinic, service, professional, clock
):
    """Slots kept before free_since had none; those then on offer were freed
    already (the waiting list had offered them): from their first offer."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("booking.migrations.0008_slot_free_since_from_offers")
    anne = wait(clinic, service, "Anne", latest=DAY + timedelta(days=1))
    offered, never, marked = (make_slot(professional, service, DAY_START + timedelta(hours=h)) for h in (9, 10, 11))
    assert waitlist.offer_slot(offered.pk) == 1 and waitlist.offer_slot(marked.pk) == 1
    clock.shift(timedelta(minutes=10))
    again = wait(clinic, service, "Bob", latest=DAY + timedelta(days=1))
    Offer.objects.filter(entry=anne).update(state="expired")
    assert waitlist.offer_slot(offered.pk) == 1  # a second round, later
    Slot.objects.filter(pk__in=[offered.pk, never.pk]).update(free_since=None)
    Slot.objects.filter(pk=marked.pk).update(free_since=NOW - timedelta(hours=1))  # freed again since: kept
    migration.free_since_from_offers(apps, None)
    assert [Slot.objects.get(pk=slot.pk).free_since for slot in (offered, never, marked)] == [
        NOW,
        None,
        NOW - timedelta(hours=1),
    ]
    assert again.offers.get().created_at == NOW + timedelta(minutes=10)


@pytest.mark.parametrize(
    "earliest, latest, wider",
    [
        (DAY, DAY + timedelta(days=2), False),  # the same dates
        (DAY + timedelta(days=1), DAY + timedelta(days=1), False),  # within
        (DAY - timedelta(days=1), DAY + timedelta(days=2), True),  # earlier start only
        (DAY, DAY + timedelta(days=3), True),  # later end only
    ],
)
def test_d21_only_dates_beyond_those_asked_count_as_wider(clinic, service, clock, earliest, latest, wider):
    anne = wait(clinic, service, "Anne", earliest=DAY, latest=DAY + timedelta(days=2))
    since = anne.waits_since
    waitlist.ask_for(anne, earliest, latest)
    assert (anne.earliest, anne.latest) == (earliest, latest)
    if wider:
        assert (anne.asked_earliest, anne.asked_latest, anne.asked_since) == (DAY, DAY + timedelta(days=2), since)
        assert anne.waits_since > since
    else:
        assert (anne.asked_since, anne.waits_since) == (None, since)
