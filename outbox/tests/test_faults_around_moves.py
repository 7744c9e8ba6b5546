"""Faults around the moves of a claimed message: a write that rolled back,
a composer that settled a message before a fault, a kind no app composes.
Each stays with its one message; the pass goes on (D15)."""

from datetime import datetime

import pytest
import time_machine
from django.db import OperationalError

from conftest import TORONTO, RecordingChannel, book, make_patient
from outbox import dispatch
from outbox.dispatch import send_due_messages
from outbox.models import Message
from outbox.outcomes import BAD_ADDRESS, TransportError


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO), tick=False) as traveller:
        yield traveller


@pytest.mark.django_db(transaction=True)
def test_r19_a_bounce_recorded_again_after_a_dropped_connection_still_fails_and_falls_back(
    slot, clinic, channel_calls, monkeypatch
):
    """durably() runs _settle_failure again on a fresh connection; the first
    try's mark_failed rolled back with the dropped connection, but left
    message.state == "failed" in memory."""
    monkeypatch.setattr(dispatch, "WRITE_PAUSE", 0)
    monkeypatch.setattr(dispatch.connection, "close", lambda: None)  # keep SQLite's test database
    real = dispatch.resend_elsewhere
    drops = [OperationalError("server closed the connection unexpectedly")]

    def drop_once(*args, **kwargs):
        if drops:
            raise drops.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatch, "resend_elsewhere", drop_once)
    book(slot, make_patient(clinic, email="jean@example.com", mobile="+15145550111"))
    RecordingChannel.failures = [TransportError("SMTP RCPT 550 5.1.1 User unknown", BAD_ADDRESS)]
    summary = send_due_messages()  # 1cba562: failed 1; here ValueError out of the pass
    assert summary["failed"] == 1
    email = Message.objects.get(kind="confirmation", fallback_of=None)
    assert email.state == "failed"
    assert Message.objects.filter(fallback_of=email).exists()


@pytest.mark.django_db
def test_a_fault_after_a_composer_withdrew_a_message_does_not_stop_the_pass(
    slot, clinic, professional, service, channel_calls, clock, monkeypatch
):
    """A composer withdraws the message, then the history write raises: at
    1cba562 mark_failed was a no-op (row no longer in the state read) and
    the batch went on; here fail() asks for withdrawn → failed, which the
    table refuses with ValueError, and the whole pass stops."""
    from confirmations import composing

    appointment = book(slot, make_patient(clinic, email="jean@example.com"))
    calls = []

    def broken_history(*args, **kwargs):
        calls.append(1)
        raise KeyError("history")

    slot.start  # noqa: B018
    # Withdrawn at the re-check: cancel the appointment without telling the outbox.
    monkeypatch.setattr(composing.rules, "recheck", lambda due, current, now: "cancelled")
    monkeypatch.setattr(composing, "write_down", broken_history)
    summary = send_due_messages()
    assert calls
    assert summary["failed"] + summary["withdrawn"] == 1
    assert Message.objects.get(appointment=appointment, kind="confirmation").state == "withdrawn"


@pytest.mark.django_db
def test_a_message_of_a_kind_nobody_composes_fails_alone(slot, clinic, channel_calls, clock, monkeypatch):
    """_load asks composer_for() outside _prepare_one's guard: the LookupError
    ends the pass, the batch is released, and the next pass claims it again."""
    from outbox import kinds

    monkeypatch.setattr(kinds, "_composers", {k: v for k, v in kinds._composers.items() if k != "offer"})
    appointment = book(slot, make_patient(clinic, email="jean@example.com"))
    Message.objects.create(kind="offer", channel="sms", to="+15145550111", clinic=clinic, due_at=appointment.created_at)
    for _ in range(2):
        send_due_messages()  # raises LookupError, every pass
    assert Message.objects.get(appointment=appointment, kind="confirmation").state == "sent"
    offer = Message.objects.get(kind="offer")
    assert (offer.state, offer.reason) == ("failed", "unexpected")
