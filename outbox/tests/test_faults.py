"""The fault suite: ordinary faults of real servers and real staff, each
against the real component where it lives (issue 9, D15–D17).

Run alone with `./hub faults`; it is part of `./hub test` too. Each
scenario adds a line to the table printed at the end: messages due, sent
(received by the provider), duplicates, lost, flagged "outcome unknown".
Every line must read 0 duplicates and 0 lost.
"""

import threading
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import psycopg
import pytest
import requests
import responses
import time_machine
import urllib3
from django.conf import settings
from django.db import IntegrityError, connection

from confirmations import links
from conftest import TORONTO, RecordingChannel, book, fault_row, make_patient, make_slot, postgres_only
from outbox.dispatch import send_due_messages
from outbox.models import Message
from outbox.tests import test_providers as providers
from outbox.tests.test_concurrency import database_url
from schedules.models import Appointment, StaleAppointment

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

BOOKED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)


# Twilio at its HTTP boundary, as the provider tests have it (same instant).
twilio = providers.twilio


@pytest.fixture
def clock():
    with time_machine.travel(BOOKED_AT, tick=False) as traveller:
        yield traveller


def book_many(professional, service, clinic, count: int, first: datetime, **contact):
    """`count` appointments, one patient each (distinct addresses)."""
    appointments = []
    for number in range(count):
        slot = make_slot(professional, service, first + timedelta(minutes=30 * number))
        fields = {"email": f"patient{number}@example.com", **contact}
        if fields.get("mobile") == "each":
            fields["mobile"] = f"+151455501{10 + number:02d}"
        appointments.append(book(slot, make_patient(clinic, first_name=f"P{number}", **fields)))
    return appointments


def confirmations_of(appointments) -> list[Message]:
    return [Message.objects.get(appointment=appointment, kind="confirmation") for appointment in appointments]


def record(scenario: str, messages: list[Message], received: Counter) -> tuple[int, int]:
    """Adds the scenario's line to the table, from what the provider received
    (`received`: message id → times) and the rows' final states; returns
    (duplicates, lost). Lost: neither received nor honestly accounted for
    (withdrawn as no longer true, or flagged unknown), or marked sent
    although the provider never got it."""
    messages = [Message.objects.get(pk=message.pk) for message in messages]
    states = Counter(message.state for message in messages)
    got = [message for message in messages if received[message.pk]]
    duplicates = sum(received[message.pk] - 1 for message in got)
    settled = {"sent", "delivered", "unknown", "withdrawn"}
    lost = sum(
        1
        for message in messages
        if message.state not in settled or (message.state in ("sent", "delivered") and not received[message.pk])
    )
    fault_row(scenario, len(messages), len(got), duplicates, lost, states["unknown"], states["withdrawn"])
    return duplicates, lost


def by_message(messages: list[Message], arrivals: Counter) -> Counter:
    """What a provider received, keyed by (recipient, subject), as message id → times."""
    rows = {
        (message.to, message.subject or None): message.pk
        for message in Message.objects.filter(pk__in=[m.pk for m in messages])
    }
    return Counter({rows[key]: times for key, times in arrivals.items() if key in rows})


@pytest.fixture
def concurrent_sends(settings):
    # As in production: several provider calls at once (sender threads).
    settings.HUB_SEND_CONCURRENCY = 8


@pytest.mark.usefixtures("concurrent_sends")
class TestEmailServerFaults:
    def test_greylisting_delays_mail_and_loses_none(self, mail_server, clinic, professional, service, clock):
        mail_server.greylist = True
        appointments = book_many(professional, service, clinic, 20, BOOKED_AT + timedelta(days=10))
        first = send_due_messages()
        assert first["retrying"] == 20
        assert {message.error for message in confirmations_of(appointments)} == {
            "SMTP RCPT 451 4.7.1 Greylisted, please try again later"
        }
        clock.shift(timedelta(minutes=1))
        assert send_due_messages()["sent"] == 20
        deliveries = mail_server.deliveries()
        assert sorted(deliveries.values()) == [1] * 20
        assert {message.state for message in confirmations_of(appointments)} == {"sent"}
        messages = confirmations_of(appointments)
        assert record("SMTP greylisting (451 at RCPT TO)", messages, by_message(messages, deliveries)) == (0, 0)

    def test_a_late_acknowledgement_is_outcome_unknown_and_never_sent_again(
        self, mail_server, settings, clinic, professional, service, clock
    ):
        settings.EMAIL_TIMEOUT = 1
        mail_server.ack_delay = 2
        appointments = book_many(professional, service, clinic, 3, BOOKED_AT + timedelta(days=10))
        assert send_due_messages()["outcome unknown"] == 3
        for _ in range(3):
            clock.shift(timedelta(hours=1))
            send_due_messages()
        messages = confirmations_of(appointments)
        assert {message.state for message in messages} == {"unknown"}
        assert (
            messages[0].why
            == "le fournisseur n’a pas répondu après l’avoir reçu (SMTP SMTPServerDisconnected after 354)"
        )
        deliveries = mail_server.deliveries()
        assert sorted(deliveries.values()) == [1] * 3
        assert record("SMTP acknowledges after the timeout", messages, by_message(messages, deliveries)) == (0, 0)

    @pytest.mark.parametrize(
        "reply", ["550 5.1.1 <patient0@example.com>: User unknown", "552 5.2.2 Mailbox full"], ids=["unknown", "full"]
    )
    def test_an_address_refused_at_data_falls_back_to_sms_with_the_servers_reason(
        self, mail_server, channel_calls, clinic, professional, service, clock, reply
    ):
        mail_server.data_reply = reply
        [appointment] = book_many(
            professional, service, clinic, 1, BOOKED_AT + timedelta(days=10), mobile="+15145550111"
        )
        send_due_messages()
        email, sms = Message.objects.filter(kind="confirmation").order_by("id")
        assert (email.state, email.reason, email.error) == ("failed", "bad_address", f"SMTP DATA {reply}")
        assert (sms.state, sms.channel, sms.fallback_of) == ("sent", "sms", email)
        assert [call[2] for call in channel_calls] == ["+15145550111"]
        assert appointment.history.filter(actor="hub").first().text == (
            "Confirmation\u00a0: échec de l’envoi, l’adresse ou le numéro ne fonctionne pas (SMTP DATA " + reply + ")."
        )

    def test_a_policy_refusal_fails_with_the_reason_and_no_fallback(
        self, mail_server, channel_calls, clinic, professional, service, clock
    ):
        mail_server.data_reply = "554 5.7.1 Message rejected as spam"
        book_many(professional, service, clinic, 1, BOOKED_AT + timedelta(days=10), mobile="+15145550111")
        send_due_messages()
        [email] = Message.objects.filter(kind="confirmation")
        assert (email.state, email.reason, email.error) == (
            "failed",
            "refused",
            "SMTP DATA 554 5.7.1 Message rejected as spam",
        )
        assert channel_calls == []

    @pytest.mark.parametrize("reply", ["550 5.1.1 User unknown", "550 5.4.1 Recipient address rejected: Access denied"])
    def test_an_address_refused_at_rcpt_falls_back(
        self, mail_server, channel_calls, clinic, professional, service, clock, reply
    ):
        mail_server.rcpt_reply = reply
        book_many(professional, service, clinic, 1, BOOKED_AT + timedelta(days=10), mobile="+15145550111")
        send_due_messages()
        states = list(Message.objects.filter(kind="confirmation").order_by("id").values_list("channel", "state"))
        assert states == [("email", "failed"), ("sms", "sent")]

    def test_a_three_hour_outage_sends_what_is_still_true_once_and_withdraws_the_rest(
        self, mail_server, clinic, professional, service, clock
    ):
        mail_server.stop()
        later = book_many(professional, service, clinic, 4, BOOKED_AT + timedelta(days=10))
        soon = book_many(professional, service, clinic, 2, BOOKED_AT + timedelta(hours=2))
        for _ in range(18):  # three hours of passes, every ten minutes
            send_due_messages()
            clock.shift(timedelta(minutes=10))
        # Still true: waiting. Past during the outage: withdrawn, with why.
        assert {message.state for message in confirmations_of(later)} == {"pending"}
        assert {(message.state, message.why) for message in confirmations_of(soon)} == {
            ("withdrawn", "le rendez-vous est déjà passé")
        }
        mail_server.start()
        assert send_due_messages()["sent"] == 4
        assert {message.state for message in confirmations_of(later)} == {"sent"}
        deliveries = mail_server.deliveries()
        assert sorted(deliveries.values()) == [1] * 4
        messages = confirmations_of(later + soon)
        assert record("SMTP server down for 3 hours", messages, by_message(messages, deliveries)) == (0, 0)


@pytest.mark.django_db(transaction=True)
class TestDatabaseFaults:
    @pytest.mark.usefixtures("today")  # its threads share the test clock
    def test_a_connection_dropped_right_after_a_send_still_records_it_sent(
        self, slot, patient, channel_calls, monkeypatch
    ):
        """The dispatcher's own PostgreSQL connection is terminated by the
        server while the provider takes the message: the outcome is written
        on a fresh connection, and the status says sent (R29)."""
        postgres_only(connection)
        monkeypatch.setattr("outbox.dispatch.WRITE_PAUSE", 0.1)
        appointment = book(slot, patient)
        original = RecordingChannel.send

        def send_then_lose_the_connection(self, message):
            provider_id = original(self, message)
            pid = connection.connection.info.backend_pid
            with psycopg.connect(database_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            return provider_id

        monkeypatch.setattr(RecordingChannel, "send", send_then_lose_the_connection)
        assert send_due_messages()["sent"] == 1
        confirmation = Message.objects.get(appointment=appointment, kind="confirmation")
        appointment.refresh_from_db()
        assert (confirmation.state, appointment.status) == ("sent", "sent_email")
        assert len(channel_calls) == 1
        received = Counter(call[0] for call in channel_calls)
        assert record("database connection dropped after a send", [confirmation], received) == (0, 0)


class TestStaffAndPatientRaces:
    def test_d17_a_staff_save_from_a_stale_read_never_undoes_a_patients_cancellation(
        self, clinic, professional, service, channel_calls, client, clock
    ):
        appointments = book_many(professional, service, clinic, 20, BOOKED_AT + timedelta(days=10))
        send_due_messages()  # the confirmations go out
        confirmations_sent = len(channel_calls)
        refused = 0
        for appointment in appointments:
            held = Appointment.objects.get(pk=appointment.pk)  # staff's copy, read before the click
            url = links.url_for(appointment.public_id, appointment.patient.public_id, links.CANCEL, "fr")
            assert client.post(url.removeprefix(settings.HUB_PUBLIC_URL)).status_code == 302
            held.notes = "rappeler"
            try:
                held.save()
            except StaleAppointment:
                refused += 1
        send_due_messages()
        assert refused == 20
        assert {appointment.status for appointment in Appointment.objects.all()} == {"cancelled"}
        kinds = Counter(Message.objects.get(pk=call[0]).kind for call in channel_calls[confirmations_sent:])
        assert kinds == {"cancellation": 20}
        cancellations = list(Message.objects.filter(kind="cancellation"))
        received = Counter(call[0] for call in channel_calls)
        assert record("staff save from a stale read, patient cancels", cancellations, received) == (0, 0)


@pytest.mark.django_db(transaction=True)
class TestDoubleBooking:
    @pytest.mark.usefixtures("today")  # its threads share the test clock
    def test_d16_two_staff_booking_overlapping_times_at_once_exactly_one_wins(
        self, clinic, professional, service, patient
    ):
        """Two connections book the same professional at overlapping times
        (two overlapping slots), ten times: the database keeps one each time."""
        postgres_only(connection)
        rounds = 10
        start = datetime(2026, 12, 3, 9, 0, tzinfo=TORONTO)
        pairs = [
            (make_slot(professional, service, start + timedelta(days=day)),
             make_slot(professional, service, start + timedelta(days=day, minutes=15)))
            for day in range(rounds)
        ]  # fmt: skip
        errors, refused = [], []

        def staff_books(slot, barrier):
            try:
                barrier.wait(timeout=10)
                book(slot, patient)
            except IntegrityError:
                refused.append(slot.pk)
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                connection.close()

        for pair in pairs:
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=staff_books, args=(slot, barrier)) for slot in pair]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert errors == []
        assert len(refused) == rounds
        active = Appointment.objects.exclude(status="cancelled")
        assert active.count() == rounds
        confirmations = Message.objects.filter(kind="confirmation").count()
        assert confirmations == rounds  # the refused booking planned nothing
        fault_row(
            "two staff book overlapping times at once (x10)", rounds, confirmations, active.count() - rounds, 0, 0
        )


@pytest.mark.usefixtures("concurrent_sends")
class TestTwilioFaults:
    """Twilio at its HTTP boundary: the real client runs, `responses` answers."""

    def test_twilio_unreachable_then_hanging_then_back(self, twilio, clinic, professional, service):
        sms = f"{providers.API}/Messages.json"
        refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
        twilio.post(sms, body=requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", refused)))
        appointments = book_many(
            professional, service, clinic, 4, BOOKED_AT + timedelta(days=10), email="", mobile="each"
        )
        assert send_due_messages()["retrying"] == 4  # the request never left: safe to try again
        twilio.replace(responses.POST, sms, body=requests.exceptions.ReadTimeout("read timed out"))
        with time_machine.travel(BOOKED_AT + timedelta(minutes=1), tick=False):
            assert send_due_messages()["outcome unknown"] == 4  # it left: Twilio may have it
        twilio.replace(responses.POST, sms, json={"sid": "SM" + "1" * 32}, status=201)
        with time_machine.travel(BOOKED_AT + timedelta(hours=1), tick=False):
            send_due_messages()
        assert {message.state for message in confirmations_of(appointments)} == {"unknown"}
        requests_that_left = len(twilio.calls) - 4
        assert requests_that_left == 4  # one per message, never a second
        # Received: every request that left (the read timeouts), by recipient.
        left = Counter(parse_qs(call.request.body)["To"][0] for call in twilio.calls[4:])
        messages = confirmations_of(appointments)
        received = Counter({message.pk: left[message.to] for message in messages})
        assert record("Twilio refuses connections, then hangs after the request", messages, received) == (0, 0)
