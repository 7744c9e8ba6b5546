"""After a bad address, the same communication goes once to the patient's
next contact (R19); with no next contact the Hub can use, nothing more is
sent and the history says only that (D9), never that it was sent again."""

from datetime import datetime

import pytest
import time_machine

from conftest import TORONTO, RecordingChannel, book, make_patient
from outbox.dispatch import send_due_messages
from outbox.models import Message
from outbox.outcomes import BAD_ADDRESS, TransportError
from outbox.tracking import record_outcome

pytestmark = pytest.mark.django_db

BOUNCE = TransportError("SMTP RCPT 550 5.1.1 User unknown", BAD_ADDRESS)
FAILED = (
    "Confirmation\u00a0: échec de l’envoi, l’adresse ou le numéro ne fonctionne pas (SMTP RCPT 550 5.1.1 User unknown)."
)
NO_OTHER_CONTACT = (
    "Confirmation\u00a0: le dossier du patient n’a aucun autre moyen de contact que ce Hub peut utiliser\u00a0; "
    "le message n’est pas renvoyé."
)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO), tick=False) as traveller:
        yield traveller


def history(appointment) -> list[str]:
    return [change.text for change in appointment.history.filter(actor="hub")]


def test_a_bad_address_with_no_other_contact_says_only_that_it_failed(slot, clinic, channel_calls):
    appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile="", phone=""))
    RecordingChannel.failures = [BOUNCE]
    send_due_messages()
    send_due_messages()
    assert history(appointment) == [FAILED, NO_OTHER_CONTACT]
    [email] = Message.objects.filter(kind="confirmation")
    assert (email.state, email.reason) == ("failed", "bad_address")
    assert email.can_be_sent_again  # once the record is corrected, staff may send it again
    assert channel_calls == []


def test_a_bad_address_with_a_next_contact_says_it_goes_there(slot, clinic, channel_calls):
    appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile="+15145550111"))
    RecordingChannel.failures = [BOUNCE]
    send_due_messages()
    send_due_messages()
    said = history(appointment)
    assert said[:2] == [
        FAILED,
        "Confirmation\u00a0: échec définitif vers jean@example.com (l’adresse ou le numéro ne fonctionne pas "
        "(SMTP RCPT 550 5.1.1 User unknown))\u00a0; envoi refait une fois au moyen de contact suivant.",
    ]
    assert NO_OTHER_CONTACT not in said
    assert [call[2] for call in channel_calls] == ["+15145550111"]


def test_a_next_contact_by_a_channel_this_hub_does_not_send_by_is_no_next_contact(
    slot, clinic, channel_calls, settings
):
    settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "sms": None, "voice": None}
    appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile="+15145550111"))
    RecordingChannel.failures = [BOUNCE]
    send_due_messages()
    send_due_messages()
    assert history(appointment) == [FAILED, NO_OTHER_CONTACT]
    assert Message.objects.filter(kind="confirmation").count() == 1
    assert channel_calls == []


def test_a_bounce_reported_later_with_no_other_contact_says_only_that_it_failed(slot, clinic, channel_calls):
    appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile="", phone=""))
    send_due_messages()
    email = Message.objects.get(kind="confirmation")
    record_outcome(email.public_id, Message.State.FAILED, "email_bounced", bad_address=True, detail="550 5.1.1")
    send_due_messages()
    said = history(appointment)
    assert said[-2:] == [
        "Confirmation\u00a0: échec de l’envoi, le serveur du destinataire a renvoyé le courriel (550 5.1.1).",
        NO_OTHER_CONTACT,
    ]
    assert Message.objects.filter(kind="confirmation").count() == 1
