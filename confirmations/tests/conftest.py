"""Fixtures of the reply and webhook tests: an appointment texted at a known time."""

from datetime import datetime

import pytest
import time_machine

from conftest import TORONTO, book, make_patient
from outbox.dispatch import send_due_messages

BOOKED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)
MOBILE, PHONE = "+15145550111", "+14505550111"


@pytest.fixture
def clock():
    with time_machine.travel(BOOKED_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def texted(clock, slot, clinic, channel_calls):
    """An appointment whose confirmation went out by SMS."""
    appointment = book(slot, make_patient(clinic, email="", mobile=MOBILE, phone=PHONE))
    send_due_messages()
    return appointment


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.HUB_PUBLIC_URL = "https://hub.example.org"
