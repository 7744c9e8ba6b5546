"""The local message page: what a developer sees instead of real SMS and
calls, and how they answer as the patient (issue 4, "the local experience")."""

from datetime import datetime

import pytest
import time_machine

from confirmations.replies import understand_waiting
from conftest import TORONTO, book, make_patient
from outbox.dispatch import send_due_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def local(settings):
    settings.DEBUG = True
    settings.TWILIO_AUTH_TOKEN = "dev-only-local-twilio-token"
    settings.HUB_CHANNELS = {
        "email": "outbox.channels.Email",
        "sms": "outbox.channels.LocalRecorder",
        "voice": "outbox.channels.LocalRecorder",
    }
    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO), tick=False):
        yield


def test_it_lists_every_message_sent_with_its_full_content_and_links(client, local, slot, patient):
    book(slot, patient)
    send_due_messages()
    page = client.get("/dev/messages/").content.decode()
    assert "jean@example.com" in page
    assert "Votre rendez-vous en personne est réservé." in page
    assert "https://hub.example.org/rendez-vous/annuler/" in page


def test_a_reply_typed_on_the_page_goes_through_the_real_webhook(client, local, slot, clinic):
    appointment = book(slot, make_patient(clinic, email="", mobile="+15145550111"))
    send_due_messages()
    message = appointment.messages.get(kind="confirmation")
    response = client.post(f"/dev/messages/{message.public_id}/reply/", {"body": "Oui"})
    assert response.status_code == 302
    understand_waiting()  # the worker's part
    appointment.refresh_from_db()
    assert appointment.status == "confirmed_sms"


def test_the_page_does_not_exist_outside_debug(client, slot, patient):
    assert client.get("/dev/messages/").status_code == 404
