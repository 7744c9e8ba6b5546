"""One class per channel, behind one small interface (STYLE.md §3).

`send(message)` delivers a message whose `to`, `subject` and `content` are
filled, and returns the provider's id for it. A failure raises
`TransportError` with its outcome (outbox/outcomes.py): temporary,
bad address, refused, or unknown once the body may have reached the
provider. Every provider call has a timeout well inside the task's.

Which class serves which channel is a setting (`HUB_CHANNELS`), so that the
embedded defaults record SMS and calls locally, and tests can count calls.
"""

import logging
import smtplib

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.urls import reverse
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from outbox.outcomes import (
    BAD_ADDRESS,
    REFUSED,
    TEMPORARY,
    UNKNOWN,
    TransportError,
    http_failure,
    http_status,
    smtp_refusal,
    smtp_reply,
)
from outbox.voice import call_twiml

log = logging.getLogger(__name__)

__all__ = ["TransportError", "Channel", "Email", "LocalRecorder", "TwilioSMS", "TwilioCall", "channel_for"]


class Channel:
    def send(self, message) -> str:
        raise NotImplementedError


class Email(Channel):
    """Through Django's mail API: the console by default, an SMTP server
    (outbox.smtp) or any anymail provider when EMAIL_BACKEND names one."""

    def send(self, message) -> str:
        try:
            connection = get_connection()
        except (ValueError, AnymailError, ImportError) as error:
            # A setting to fix (TLS and SSL both on, missing credentials): nothing left.
            raise TransportError(f"email settings: {type(error).__name__}") from error
        mail = EmailMultiAlternatives(
            subject=message.subject, body=message.content, to=[message.to], connection=connection
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        # Tracking events (delivered, bounced…) find their Message by this id.
        mail.metadata = {"hub_message": str(message.public_id)}
        mail.tags = [f"hub-{message.kind}"]
        # No open pixel (no external images) and no click rewriting: the
        # signed links must reach the patient pages untouched.
        mail.track_opens = False
        mail.track_clicks = False
        try:
            mail.send()
        except (smtplib.SMTPException, OSError, AnymailError) as error:
            raise email_failure(error, handed_over=getattr(connection, "handed_over", False)) from error
        status = getattr(mail, "anymail_status", None)
        if status is not None and status.message_id is not None:
            return str(status.message_id)
        return f"local-{message.public_id}"


def email_failure(error: Exception, handed_over: bool) -> TransportError:
    """The outcome of a failed email send (outbox/outcomes.py)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # One recipient per message: its own code says why.
        code, text = next(iter(error.recipients.values()))
        return TransportError(f"SMTP RCPT {smtp_reply(code, text)}", smtp_refusal(code, text, at_recipient=True))
    if isinstance(error, smtplib.SMTPDataError) and (400 <= error.smtp_code < 600 or not handed_over):
        # An answer to the message itself, even after the body: not taken.
        reply = smtp_reply(error.smtp_code, error.smtp_error)
        outcome = smtp_refusal(error.smtp_code, error.smtp_error, at_recipient=False)
        return TransportError(f"SMTP DATA {reply}", outcome if error.smtp_code >= 400 else TEMPORARY)
    if isinstance(error, smtplib.SMTPSenderRefused) and error.smtp_code >= 500:
        reply = smtp_reply(error.smtp_code, error.smtp_error)
        return TransportError(f"SMTP MAIL FROM {reply}", REFUSED)
    if isinstance(error, smtplib.SMTPResponseException) and not isinstance(error, smtplib.SMTPDataError):
        # Before the message: the greeting, EHLO, STARTTLS, the Hub's login,
        # a 4xx sender refusal. The server's state or the Hub's settings,
        # not this message: tried again while it is still true.
        return TransportError(f"SMTP {smtp_reply(error.smtp_code, error.smtp_error)}")
    if isinstance(error, AnymailRecipientsRefused | AnymailInvalidAddress):
        return TransportError(f"{type(error).__name__}: {error}", BAD_ADDRESS)
    if isinstance(error, AnymailAPIError) and error.status_code is not None:
        return http_status(error.status_code, "anymail", (error.response.reason or "") if error.response else "")
    if isinstance(error, requests.RequestException):
        # anymail's requests errors wrap the one that caused them.
        return http_failure(
            error.__cause__ if isinstance(error.__cause__, requests.RequestException) else error, "anymail"
        )
    if isinstance(error, AnymailError):
        return TransportError(f"anymail {type(error).__name__}")
    if handed_over:
        # After the server's 354: it has the message, and never said whether it keeps it.
        return TransportError(f"SMTP {type(error).__name__} after 354", UNKNOWN)
    return TransportError(f"SMTP {type(error).__name__}: {error}")


class LocalRecorder(Channel):
    """Records what would be sent: the Message row already holds the exact
    content and recipient, which the local message page shows."""

    def send(self, message) -> str:
        log.debug("local %s recorded for message %s", message.channel, message.public_id)
        return f"local-{message.public_id}"


# Twilio error codes that mean the number itself cannot be reached.
# https://www.twilio.com/docs/api/errors
BAD_NUMBER_CODES = {
    21211,  # invalid "To" number
    21214,  # "To" number cannot be reached
    21217,  # phone number does not appear to be valid
    21401,  # invalid phone number
    21407,  # destination not supported
    21421,  # phone number is invalid
    21610,  # the recipient replied STOP
    21612,  # cannot route to this number
    21614,  # not a mobile number
    13223,  # invalid phone number format (calls)
    13224,  # invalid phone number (calls)
}
OPTED_OUT_CODE = 21610
TOO_MANY_REQUESTS_CODE = 20429


def twilio_error(error: TwilioRestException) -> TransportError:
    if error.code in BAD_NUMBER_CODES:
        return TransportError(f"Twilio {error.code}", BAD_ADDRESS)
    if error.code == TOO_MANY_REQUESTS_CODE:
        return TransportError(f"Twilio {error.code}", TEMPORARY)
    return http_status(error.status, "Twilio", str(error.code) if error.code else "")


class Twilio(Channel):
    def __init__(self):
        # A hung connection is cut well inside the worker's task timeout.
        http = TwilioHttpClient(timeout=settings.HUB_PROVIDER_TIMEOUT)
        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)

    def status_callback(self, message) -> str:
        return f"{settings.HUB_PUBLIC_URL}{reverse('twilio-status', args=[message.public_id])}"

    def send(self, message) -> str:
        try:
            return self.create(message)
        except TwilioRestException as error:
            failure = twilio_error(error)
            # The dispatcher remembers the opt-out (no database work here:
            # provider calls run in sender threads).
            failure.opted_out = error.code == OPTED_OUT_CODE
            raise failure from error
        except requests.RequestException as error:
            raise http_failure(error, "Twilio") from error


class TwilioSMS(Twilio):
    """Twilio Messages API, from a number or a messaging service."""

    def create(self, message) -> str:
        sender = (
            {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else {"from_": settings.TWILIO_FROM_NUMBER}
        )
        sent = self.client.messages.create(
            to=message.to, body=message.content, status_callback=self.status_callback(message), **sender
        )
        return sent.sid


class TwilioCall(Twilio):
    """Twilio Calls API. The TwiML travels with the call. Machine detection
    waits for the end of a voicemail greeting before speaking, so that the
    recording holds the whole message."""

    def create(self, message) -> str:
        call = self.client.calls.create(
            to=message.to,
            from_=settings.TWILIO_FROM_NUMBER,
            twiml=call_twiml(message),
            machine_detection="DetectMessageEnd",
            status_callback=self.status_callback(message),
            status_callback_event=["completed"],
        )
        return call.sid


def channel_for(name: str) -> Channel:
    return import_string(settings.HUB_CHANNELS[name])()
