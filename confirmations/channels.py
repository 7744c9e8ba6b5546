"""One class per channel, behind one small interface (STYLE.md §3).

`send(message)` delivers a message whose `to`, `subject` and `content` are
filled, and returns the provider's id for it. A failure raises
`TransportError`; `permanent=True` means trying again cannot help (a bad
address), otherwise the dispatcher retries with backoff.

Which class serves which channel is a setting (`HUB_CHANNELS`), so that the
embedded defaults record SMS and calls locally, and tests can count calls.
"""

import logging
import smtplib

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from confirmations.voice import call_twiml

log = logging.getLogger(__name__)


class TransportError(Exception):
    """`permanent`: trying again cannot help. `bad_address`: the contact
    itself is unusable (invalid, unreachable, opted out), so the same
    communication goes once to the patient's next contact method."""

    def __init__(self, reason: str, permanent: bool = False, bad_address: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or bad_address
        self.bad_address = bad_address


class Channel:
    def send(self, message) -> str:
        raise NotImplementedError


class Email(Channel):
    """Through Django's mail API: the console by default, any anymail
    provider when EMAIL_BACKEND names one."""

    def send(self, message) -> str:
        mail = EmailMultiAlternatives(subject=message.subject, body=message.content, to=[message.to])
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
        except (AnymailRecipientsRefused, AnymailInvalidAddress) as error:
            raise TransportError("email address refused by the provider", bad_address=True) from error
        except AnymailAPIError as error:
            status = getattr(error, "status_code", None)
            temporary = status is None or status == 429 or status >= 500
            raise TransportError(f"email provider error {status}", permanent=not temporary) from error
        except smtplib.SMTPRecipientsRefused as error:
            raise TransportError("email address refused by the mail server", bad_address=True) from error
        except smtplib.SMTPResponseException as error:
            # 5xx: the server will not take it, trying again cannot help.
            raise TransportError(f"mail server error {error.smtp_code}", permanent=error.smtp_code >= 500) from error
        except OSError as error:  # connection refused, timeout: try again later
            raise TransportError(f"email provider unreachable: {type(error).__name__}") from error
        status = getattr(mail, "anymail_status", None)
        if status is not None and status.message_id is not None:
            return str(status.message_id)
        return f"local-{message.public_id}"


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


def twilio_error(error: TwilioRestException) -> TransportError:
    if error.code in BAD_NUMBER_CODES:
        return TransportError(f"Twilio error {error.code}: number unusable", bad_address=True)
    temporary = error.status == 429 or error.status >= 500 or error.code == 20429
    return TransportError(f"Twilio error {error.code or error.status}", permanent=not temporary)


class Twilio(Channel):
    def __init__(self):
        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)

    def status_callback(self, message) -> str:
        return f"{settings.HUB_PUBLIC_URL}{reverse('twilio-status', args=[message.public_id])}"

    def send(self, message) -> str:
        try:
            return self.create(message)
        except TwilioRestException as error:
            if error.code == OPTED_OUT_CODE:
                from confirmations.models import OptOut

                OptOut.objects.get_or_create(number=message.to)
            raise twilio_error(error) from error
        except OSError as error:  # connection refused, timeout: try again later
            raise TransportError(f"Twilio unreachable: {type(error).__name__}") from error


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
