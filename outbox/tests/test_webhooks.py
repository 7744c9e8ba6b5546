"""Webhooks: Twilio status callbacks, inbound SMS, keys pressed in a call,
and anymail's email tracking (issue 4; SPEC R27, R28, D11)."""

import base64
import json
from datetime import datetime, timedelta

import pytest

from confirmations.keywords import normalize
from confirmations.replies import understand_waiting
from conftest import BOOKED_AT, MOBILE, PHONE, TORONTO, book, make_patient, make_slot
from outbox.dispatch import send_due_messages
from outbox.models import Message, OptOut, Reply
from outbox.tests.webhook_cases import TwilioWebhookSecurityCases, post_signed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def always(clock):
    """Every test here runs at BOOKED_AT (the clock fixture)."""


@pytest.fixture
def called(clinic, professional, service, channel_calls):
    """An appointment 30 h ahead whose reminder call was placed."""
    soon = make_slot(professional, service, BOOKED_AT + timedelta(hours=30))
    appointment = book(soon, make_patient(clinic, email="", phone=PHONE))
    send_due_messages()
    return appointment


def sms_message(appointment) -> Message:
    return appointment.messages.get(kind="confirmation")


# --- The security case, run against every Twilio endpoint -------------------


class TestStatusWebhookSecurity(TwilioWebhookSecurityCases):
    @pytest.fixture
    def endpoint(self, texted):
        message = sms_message(texted)
        return f"/twilio/status/{message.public_id}/", {"MessageSid": "SM1", "MessageStatus": "delivered"}, 204


class TestInboundSmsWebhookSecurity(TwilioWebhookSecurityCases):
    @pytest.fixture
    def endpoint(self, db):
        return "/twilio/sms/", {"From": MOBILE, "Body": "Oui", "MessageSid": "SM2"}, 200


class TestGatherWebhookSecurity(TwilioWebhookSecurityCases):
    @pytest.fixture
    def endpoint(self, called):
        reminder = called.messages.get(kind="reminder")
        return f"/twilio/voice/{reminder.public_id}/gather/?attempt=1", {"Digits": "1", "CallSid": "CA1"}, 200


# --- Status callbacks ---------------------------------------------------------


def callback(client, message, **params):
    return post_signed(client, f"/twilio/status/{message.public_id}/", params)


class TestStatusCallbacks:
    def test_delivered_is_recorded(self, client, twilio_settings, texted):
        message = sms_message(texted)
        callback(client, message, MessageStatus="delivered")
        message.refresh_from_db()
        assert message.state == "delivered"

    @pytest.mark.parametrize("state", ["sending", "unknown"])
    def test_d15_the_providers_report_settles_a_send_that_was_not_confirmed(
        self, client, twilio_settings, texted, state
    ):
        # The worker died (or its connection dropped) after Twilio took the SMS.
        message = sms_message(texted)
        Message.objects.filter(pk=message.pk).update(
            state=state, sent_at=None, reason="no_answer", error="Twilio ReadTimeout after sending"
        )
        texted.refresh_from_db()
        texted.status, texted.communication = "booked", {}
        texted.save(update_fields=["status", "communication"])
        callback(client, message, MessageStatus="delivered")
        message.refresh_from_db()
        assert (message.state, message.why, message.sent_at is not None) == ("delivered", "", True)
        texted.refresh_from_db()
        assert texted.status == "sent_sms"

    def test_the_same_callback_twice_changes_nothing(self, client, twilio_settings, texted):
        message = sms_message(texted)
        callback(client, message, MessageStatus="undelivered", ErrorCode="30003")
        history = texted.history.count()
        callback(client, message, MessageStatus="undelivered", ErrorCode="30003")
        assert Message.objects.filter(kind="confirmation").count() == 2  # one fallback, not two
        assert texted.history.count() == history

    def test_a_late_sent_never_overwrites_delivered(self, client, twilio_settings, texted):
        message = sms_message(texted)
        callback(client, message, MessageStatus="delivered")
        callback(client, message, MessageStatus="sent")
        message.refresh_from_db()
        assert message.state == "delivered"

    def test_an_unreachable_mobile_falls_back_once_to_the_phone(self, client, twilio_settings, texted, channel_calls):
        callback(client, sms_message(texted), MessageStatus="undelivered", ErrorCode="30003")
        send_due_messages()
        assert [(call[1], call[2]) for call in channel_calls] == [("sms", MOBILE), ("voice", PHONE)]

    @pytest.mark.parametrize(
        ("status", "state", "why"),
        [
            ("completed", "delivered", ""),
            ("busy", "failed", "la ligne était occupée"),
            ("no-answer", "failed", "personne n’a répondu"),
            ("failed", "failed", "l’appel n’a pas pu être effectué"),
        ],
    )
    def test_call_outcomes(self, client, twilio_settings, called, status, state, why):
        reminder = called.messages.get(kind="reminder")
        callback(client, reminder, CallSid="CA1", CallStatus=status)
        reminder.refresh_from_db()
        assert (reminder.state, reminder.why) == (state, why)

    @pytest.mark.parametrize("state", ["pending", "withdrawn", "failed"])
    def test_a_callback_for_a_message_not_out_changes_nothing(self, client, twilio_settings, texted, state):
        reminder = texted.messages.get(kind="reminder")
        Message.objects.filter(pk=reminder.pk).update(state=state)
        callback(client, reminder, MessageStatus="delivered")
        reminder.refresh_from_db()
        assert reminder.state == state


# --- Patient replies by SMS (R27, D11) ----------------------------------------


def text_back(client, body: str, number: str = MOBILE, sid: str = "SM9"):
    response = post_signed(client, "/twilio/sms/", {"From": number, "Body": body, "MessageSid": sid})
    understand_waiting()  # what the queued task does in the worker
    return response


@pytest.mark.parametrize("body", ["OK", "Oui", "Yes", "oui!", " Ok ", "OUI.", "yes !", "Oùi"])
def test_r27_a_yes_confirms_the_appointment_of_the_last_sms(client, twilio_settings, texted, body):
    response = text_back(client, body)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    texted.refresh_from_db()
    assert texted.status == "confirmed_sms"
    reply = Reply.objects.get()
    assert (reply.outcome, reply.message, reply.clinic) == ("confirmed", sms_message(texted), texted.clinic)
    assert texted.history.last().actor == "patient"


@pytest.mark.parametrize("body", ["Ok stop", "STOP OK", "Oui arrêt", "okstop", "merci", "OKAY", "Non"])
def test_d11_anything_else_changes_nothing_and_is_kept_for_staff(client, twilio_settings, texted, body):
    text_back(client, body)
    texted.refresh_from_db()
    assert texted.status == "sent_sms"
    assert Reply.objects.get().outcome == "not_understood"
    assert not OptOut.objects.exists()
    assert Reply.objects.get().body == body


@pytest.mark.parametrize("body", ["STOP", "Arrêt", "ARRET", "stop.", "Unsubscribe", "QUIT"])
def test_opt_out_words_stop_sms_to_that_number(client, twilio_settings, texted, body, channel_calls):
    text_back(client, body)
    assert OptOut.objects.filter(number=MOBILE).exists()
    texted.refresh_from_db()
    assert texted.status == "sent_sms"  # never a confirmation


def test_after_an_opt_out_messages_go_to_the_next_contact_and_start_opts_back_in(
    client, twilio_settings, texted, channel_calls, clock
):
    text_back(client, "STOP", sid="SM1")
    clock.move_to(datetime(2026, 12, 1, 14, 30, tzinfo=TORONTO))
    send_due_messages()
    assert channel_calls[-1][1:3] == ("voice", PHONE)
    text_back(client, "START", sid="SM2")
    assert not OptOut.objects.exists()
    assert Reply.objects.get(provider_id="SM2").outcome == "opted_in"


def test_a_reply_from_an_unknown_number_confirms_nothing(client, twilio_settings, texted):
    text_back(client, "Oui", number="+15145559999")
    assert Reply.objects.get().outcome == "no_appointment"
    texted.refresh_from_db()
    assert texted.status == "sent_sms"


def test_a_reply_after_the_appointment_confirms_nothing(client, twilio_settings, texted, clock):
    clock.move_to(texted.end)
    text_back(client, "Oui")
    assert Reply.objects.get().outcome == "no_appointment"


def test_twilio_retrying_the_same_sms_records_it_once(client, twilio_settings, texted):
    text_back(client, "Oui", sid="SMsame")
    text_back(client, "Oui", sid="SMsame")
    assert Reply.objects.count() == 1


def test_replies_are_matched_accent_and_case_insensitively():
    assert [normalize(text) for text in ["  oui! ", "Arrêt.", "O K", "Yes?"]] == ["OUI", "ARRET", "OK", "YES"]


# --- Key pressed during a reminder call (R28) ------------------------------------


def press(client, reminder, digits: str, attempt: int = 1):
    path = f"/twilio/voice/{reminder.public_id}/gather/?attempt={attempt}"
    params = {"CallSid": "CA1"} | ({"Digits": digits} if digits else {})
    response = post_signed(client, path, params)
    understand_waiting()
    return response.content.decode()


def test_r28_pressing_1_confirms_and_thanks(client, twilio_settings, called):
    twiml = press(client, called.messages.get(kind="reminder"), "1")
    assert "Merci. Votre rendez-vous est confirmé. Au revoir." in twiml and "<Hangup />" in twiml
    called.refresh_from_db()
    assert called.status == "confirmed_voice"


def test_another_key_repeats_once_then_says_goodbye(client, twilio_settings, called):
    reminder = called.messages.get(kind="reminder")
    again = press(client, reminder, "2", attempt=1)
    assert "<Gather" in again and "attempt=2" in again and "Appuyez sur 1" in again
    goodbye = press(client, reminder, "", attempt=2)
    assert "Au revoir." in goodbye and "<Gather" not in goodbye
    called.refresh_from_db()
    assert called.status == "sent_voice"


# --- Email tracking (anymail) ------------------------------------------------------


def postmark(client, payload: dict, secret: str | None = "hub:tracking-secret"):
    headers = {}
    if secret:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return client.post("/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **headers)


@pytest.fixture
def emailed(slot, patient, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hub:tracking-secret"}
    appointment = book(slot, patient)
    send_due_messages()
    return appointment.messages.get(kind="confirmation")


def test_email_delivery_is_tracked(client, emailed):
    response = postmark(client, {"RecordType": "Delivery", "MessageID": "x", "Recipient": "jean@example.com",
                                 "DeliveredAt": "2026-11-23T15:00:01Z", "Metadata": {"hub_message": str(emailed.public_id)}})  # fmt: skip
    assert response.status_code == 200
    emailed.refresh_from_db()
    assert emailed.state == "delivered"


def test_a_hard_bounce_fails_the_message(client, emailed):
    postmark(client, {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "MessageID": "x",
                      "Email": "jean@example.com", "BouncedAt": "2026-11-23T15:00:01Z",
                      "Metadata": {"hub_message": str(emailed.public_id)}})  # fmt: skip
    emailed.refresh_from_db()
    assert emailed.state == "failed"


def test_email_tracking_needs_the_shared_secret(client, emailed, settings):
    payload = {"RecordType": "Delivery", "MessageID": "x", "Metadata": {"hub_message": str(emailed.public_id)}}
    assert postmark(client, payload, secret=None).status_code in (400, 401, 403)
    assert postmark(client, payload, secret="hub:wrong").status_code in (400, 401, 403)
    settings.ANYMAIL = {key: value for key, value in settings.ANYMAIL.items() if key != "WEBHOOK_SECRET"}
    assert postmark(client, payload).status_code == 403
    emailed.refresh_from_db()
    assert emailed.state == "sent"


def test_d11_a_reply_confirms_the_sms_it_answered_even_if_read_after_a_newer_one(
    client, twilio_settings, texted, clinic, professional, service, clock
):
    post_signed(client, "/twilio/sms/", {"From": MOBILE, "Body": "Oui", "MessageSid": "SM1"})
    clock.shift(timedelta(minutes=1))  # a sibling's confirmation goes to the same family mobile...
    sibling = book(
        make_slot(professional, service, texted.start + timedelta(days=1)),
        make_patient(clinic, first_name="Zoé", email="", mobile=MOBILE),
    )
    send_due_messages()
    understand_waiting()  # ...before the worker reads the reply
    texted.refresh_from_db()
    sibling.refresh_from_db()
    assert (texted.status, sibling.status) == ("confirmed_sms", "sent_sms")


def test_r28_pressing_1_after_a_cancellation_says_so_instead_of_thanks(client, twilio_settings, called):
    reminder = called.messages.get(kind="reminder")
    called.refresh_from_db()  # the Hub noted the call on it (D17: no saving a stale copy)
    called.status = "cancelled"
    called.save()
    twiml = press(client, reminder, "1")
    assert "ne peut plus être confirmé" in twiml and "514 555-0100" in twiml and "Merci" not in twiml
    called.refresh_from_db()
    assert called.status == "cancelled"


def test_a_recorded_sms_is_handed_to_the_worker_to_be_read_once_it_commits(
    client, twilio_settings, texted, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("confirmations.composing.queue", lambda task, *args: queued.append((task, *args)))
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, "/twilio/sms/", {"From": MOBILE, "Body": "OK", "MessageSid": "SM77"})
    reply = Reply.objects.get(provider_id="SM77")
    assert queued == [("confirmations.tasks.understand_reply", reply.pk)]
