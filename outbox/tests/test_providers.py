"""Real provider clients, faked only at their HTTP boundary (issue 4).

Twilio's own client runs and `responses` answers its HTTP requests; email
goes through anymail's test backend. Each test asserts the exact request
the Hub makes.
"""

from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
import time_machine
import urllib3
from django.core import mail

from conftest import TORONTO, book, make_patient
from outbox.dispatch import send_due_messages
from outbox.models import Message, OptOut

pytestmark = pytest.mark.django_db

SID = "AC" + "0" * 32
API = f"https://api.twilio.com/2010-04-01/Accounts/{SID}"
BOOKED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.TWILIO_FROM_NUMBER = "+15145550199"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.HUB_PUBLIC_URL = "https://hub.example.org"
    settings.HUB_CHANNELS = {
        "email": "outbox.channels.Email",
        "sms": "outbox.channels.TwilioSMS",
        "voice": "outbox.channels.TwilioCall",
    }
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        time_machine.travel(BOOKED_AT, tick=False),
    ):
        yield mock


def sent_sms(mock, sid="SM" + "1" * 32):
    mock.post(f"{API}/Messages.json", json={"sid": sid, "status": "queued"}, status=201)


def twilio_error(mock, endpoint: str, code: int, status: int = 400):
    mock.post(f"{API}/{endpoint}.json", json={"code": code, "message": "error", "status": status}, status=status)


def form(call) -> dict:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


class TestSms:
    def test_it_sends_through_the_messages_api_with_a_status_callback(self, twilio, clinic, slot):
        sent_sms(twilio)
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["sent"] == 1
        request = form(twilio.calls[0])
        message = Message.objects.get(kind="confirmation")
        assert twilio.calls[0].request.url == f"{API}/Messages.json"
        assert request == {
            "To": "+15145550111",
            "From": "+15145550199",
            "Body": message.content,
            "StatusCallback": f"https://hub.example.org/twilio/status/{message.public_id}/",
        }
        assert message.content == (
            "Clinique du Parc : rendez-vous en personne de Jean Roy confirmé le jeudi 3 décembre 2026 à 14 h 30 "
            "avec Marie Tremblay."
        )
        assert message.provider_id == "SM" + "1" * 32

    def test_it_can_send_from_a_messaging_service(self, twilio, settings, clinic, slot):
        settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "2" * 32
        sent_sms(twilio)
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        send_due_messages()
        request = form(twilio.calls[0])
        assert request["MessagingServiceSid"] == "MG" + "2" * 32
        assert "From" not in request

    def test_an_invalid_number_fails_and_the_same_message_goes_once_to_the_next_contact(self, twilio, clinic, slot):
        twilio_error(twilio, "Messages", 21211)
        twilio.post(f"{API}/Calls.json", json={"sid": "CA" + "3" * 32, "status": "queued"}, status=201)
        appointment = book(slot, make_patient(clinic, email="", mobile="+15145550111", phone="+14505550111"))
        summary = send_due_messages()
        assert (summary["failed"], summary["sent"]) == (1, 1)
        first, second = Message.objects.filter(kind="confirmation").order_by("id")
        assert (first.state, first.channel, first.to) == ("failed", "sms", "+15145550111")
        assert (second.state, second.channel, second.to) == ("sent", "voice", "+14505550111")
        assert second.fallback_of == first
        said = [change.text for change in appointment.history.filter(actor="hub")]
        assert said[:2] == [
            "Confirmation\u00a0: échec de l’envoi, l’adresse ou le numéro ne fonctionne pas (Twilio 21211).",
            "Confirmation\u00a0: échec définitif vers (514) 555-0111 (l’adresse ou le numéro ne fonctionne pas "
            "(Twilio 21211))\u00a0; envoi refait une fois au moyen de contact suivant.",
        ]

    def test_the_next_contact_is_tried_only_once(self, twilio, clinic, slot):
        twilio_error(twilio, "Messages", 21211)
        twilio_error(twilio, "Calls", 13224)
        book(slot, make_patient(clinic, email="", mobile="+15145550111", phone="+14505550111"))
        send_due_messages()
        send_due_messages()
        assert Message.objects.filter(kind="confirmation").count() == 2
        assert set(Message.objects.filter(kind="confirmation").values_list("state", flat=True)) == {"failed"}

    def test_an_opted_out_number_is_remembered_and_skipped_later(self, twilio, clinic, slot):
        twilio_error(twilio, "Messages", 21610)
        patient = make_patient(clinic, email="", mobile="+15145550111", phone="+14505550111")
        twilio.post(f"{API}/Calls.json", json={"sid": "CA" + "3" * 32}, status=201)
        book(slot, patient)
        send_due_messages()
        assert OptOut.objects.filter(number="+15145550111").exists()

    def test_every_request_carries_the_provider_timeout(self, twilio, settings, clinic, slot):
        settings.HUB_PROVIDER_TIMEOUT = 7
        sent_sms(twilio)
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        send_due_messages()
        assert twilio.calls[0].request.req_kwargs["timeout"] == 7

    def test_d15_no_answer_after_the_request_left_is_outcome_unknown_never_retried(self, twilio, clinic, slot):
        twilio.post(f"{API}/Messages.json", body=requests.exceptions.ReadTimeout("read timed out"))
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["outcome unknown"] == 1
        message = Message.objects.get(kind="confirmation")
        assert message.state == "unknown"
        assert (message.reason, message.error) == ("no_answer", "Twilio ReadTimeout after sending")
        with time_machine.travel(BOOKED_AT + timedelta(hours=2), tick=False):
            send_due_messages()
        assert len(twilio.calls) == 1

    def test_a_connection_that_never_opened_is_retried(self, twilio, clinic, slot):
        refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
        twilio.post(
            f"{API}/Messages.json",
            body=requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", refused)),
        )
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["retrying"] == 1
        assert (
            Message.objects.get(kind="confirmation").why
            == "le fournisseur n’a pas pu le prendre en charge (Twilio ConnectionError)"
        )

    def test_a_connect_timeout_is_retried(self, twilio, clinic, slot):
        twilio.post(f"{API}/Messages.json", body=requests.exceptions.ConnectTimeout("connect timed out"))
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["retrying"] == 1

    def test_a_server_error_after_the_request_is_outcome_unknown(self, twilio, clinic, slot):
        twilio_error(twilio, "Messages", 20500, status=500)
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["outcome unknown"] == 1

    def test_a_refusal_of_the_request_fails_with_twilios_code(self, twilio, clinic, slot):
        twilio_error(twilio, "Messages", 21602, status=400)  # message body is required
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["failed"] == 1
        assert Message.objects.get(kind="confirmation").why == "refusé par le fournisseur (Twilio HTTP 400 21602)"

    def test_a_provider_outage_is_retried(self, twilio, clinic, slot):
        twilio_error(twilio, "Messages", 20500, status=503)
        book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        assert send_due_messages()["retrying"] == 1
        assert Message.objects.get(kind="confirmation").state == "pending"


class TestCalls:
    @pytest.fixture
    def caller(self, clinic):
        return make_patient(clinic, email="", phone="+14505550111")

    def test_it_places_the_call_with_the_script_and_machine_detection(self, twilio, caller, slot):
        twilio.post(f"{API}/Calls.json", json={"sid": "CA" + "3" * 32, "status": "queued"}, status=201)
        book(slot, caller)
        assert send_due_messages()["sent"] == 1
        message = Message.objects.get(kind="confirmation")
        request = form(twilio.calls[0])
        assert twilio.calls[0].request.url == f"{API}/Calls.json"
        assert request == {
            "To": "+14505550111",
            "From": "+15145550199",
            "Twiml": '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="fr-CA" voice="Polly.Chantal">'
            f"{message.content}</Say></Response>",
            "MachineDetection": "DetectMessageEnd",
            "StatusCallback": f"https://hub.example.org/twilio/status/{message.public_id}/",
            "StatusCallbackEvent": "completed",
        }
        assert message.content.startswith("Ce message est pour confirmer le rendez-vous en personne de Jean Roy")

    def test_the_reminder_call_gathers_one_digit(self, twilio, caller, professional, service):
        from conftest import make_slot

        soon = make_slot(professional, service, BOOKED_AT + timedelta(hours=30))
        twilio.post(f"{API}/Calls.json", json={"sid": "CA" + "3" * 32}, status=201)
        book(soon, caller)  # under 48 h by phone: only the reminder call (R12, D3)
        send_due_messages()
        reminder = Message.objects.get(kind="reminder")
        twiml = form(twilio.calls[0])["Twiml"]
        gather = f"https://hub.example.org/twilio/voice/{reminder.public_id}/gather/?attempt=1"
        assert f'<Gather action="{gather}" numDigits="1" timeout="6">' in twiml
        assert "Appuyez sur 1 pour confirmer votre rendez-vous." in twiml
        assert twiml.endswith(f"</Gather><Redirect>{gather}</Redirect></Response>")

    def test_english_calls_use_the_english_canadian_voice(self, twilio, clinic, slot):
        twilio.post(f"{API}/Calls.json", json={"sid": "CA" + "3" * 32}, status=201)
        book(slot, make_patient(clinic, email="", phone="+14505550111", language="en"))
        send_due_messages()
        assert '<Say language="en-CA"' in form(twilio.calls[0])["Twiml"]
        assert "This message is to confirm Jean Roy's in-person appointment" in form(twilio.calls[0])["Twiml"]


class TestEmail:
    @pytest.fixture
    def anymail(self, settings):
        settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": "outbox.channels.Email"}
        with time_machine.travel(BOOKED_AT, tick=False):
            yield

    def test_the_mail_carries_the_message_id_text_and_html_and_no_tracking(self, anymail, slot, patient):
        book(slot, patient)
        send_due_messages()
        message = Message.objects.get(kind="confirmation")
        [email] = mail.outbox
        assert email.to == ["jean@example.com"]
        assert email.metadata == {"hub_message": str(message.public_id)}
        assert email.track_clicks is False and email.track_opens is False
        assert email.body == message.content
        assert email.alternatives[0][0] == message.html
        assert "Annuler le rendez-vous" in message.html

    def test_a_refused_address_falls_back_to_the_next_contact(self, anymail, settings, clinic, slot, monkeypatch):
        from anymail.exceptions import AnymailRecipientsRefused

        def refuse(self, email_messages):
            raise AnymailRecipientsRefused("refused")

        monkeypatch.setattr("anymail.backends.test.EmailBackend.send_messages", refuse)
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "sms": "conftest.RecordingChannel"}
        book(slot, make_patient(clinic, email="bad@example.com", mobile="+15145550111"))
        send_due_messages()
        states = list(Message.objects.filter(kind="confirmation").order_by("id").values_list("channel", "state"))
        assert states == [("email", "failed"), ("sms", "sent")]


class TestEmailProviderOverHttp:
    """A real anymail backend (Postmark), its HTTP API answered by `responses`."""

    POSTMARK = "https://api.postmarkapp.com/email"

    @pytest.fixture
    def postmark(self, settings):
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "REQUESTS_TIMEOUT": 7}
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": "outbox.channels.Email"}
        with (
            responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
            time_machine.travel(BOOKED_AT, tick=False),
        ):
            yield mock

    def test_it_sends_with_the_provider_timeout_and_records_the_providers_id(self, postmark, slot, patient):
        postmark.post(
            self.POSTMARK, json={"ErrorCode": 0, "Message": "OK", "MessageID": "pm-1", "To": "jean@example.com"}
        )
        book(slot, patient)
        assert send_due_messages()["sent"] == 1
        assert postmark.calls[0].request.req_kwargs["timeout"] == 7
        assert Message.objects.get(kind="confirmation").provider_id == "pm-1"

    @pytest.mark.parametrize(("status", "outcome"), [(429, "retrying"), (503, "retrying"), (401, "retrying"),
        (500, "outcome unknown"), (502, "outcome unknown"), (504, "outcome unknown"), (422, "failed")])  # fmt: skip
    def test_an_http_error_answer_is_classified_by_its_status(self, postmark, slot, patient, status, outcome):
        postmark.post(self.POSTMARK, json={"ErrorCode": 1, "Message": "no"}, status=status)
        book(slot, patient)
        assert send_due_messages()[outcome] == 1

    def test_a_connection_that_never_opened_is_retried(self, postmark, slot, patient):
        refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
        error = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", refused))
        postmark.post(self.POSTMARK, body=error)
        book(slot, patient)
        assert send_due_messages()["retrying"] == 1
        assert Message.objects.get(kind="confirmation").error == "anymail ConnectionError"

    def test_no_answer_after_the_request_left_is_outcome_unknown(self, postmark, slot, patient):
        postmark.post(self.POSTMARK, body=requests.exceptions.ReadTimeout("read timed out"))
        book(slot, patient)
        assert send_due_messages()["outcome unknown"] == 1
        with time_machine.travel(BOOKED_AT + timedelta(hours=1), tick=False):
            send_due_messages()
        assert len(postmark.calls) == 1

    def test_an_inactive_recipient_falls_back_to_the_next_contact(self, postmark, settings, clinic, slot):
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "sms": "conftest.RecordingChannel"}
        postmark.post(self.POSTMARK, status=422, json={"ErrorCode": 406, "Message": "You tried to send to recipient(s) "
            "that have been marked as inactive.\n Found inactive addresses: bad@example.com.\n Inactive recipients are "
            "ones that have generated a hard bounce or a spam complaint."})  # fmt: skip
        book(slot, make_patient(clinic, email="bad@example.com", mobile="+15145550111"))
        send_due_messages()
        states = list(Message.objects.filter(kind="confirmation").order_by("id").values_list("channel", "state"))
        assert states == [("email", "failed"), ("sms", "sent")]
