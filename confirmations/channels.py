"""One class per channel, behind one small interface (STYLE.md §3).

`send(message)` delivers a message whose `to`, `subject` and `content` are
filled, and returns the provider's id for it. A failure raises
`TransportError`; `permanent=True` means trying again cannot help (a bad
address), otherwise the dispatcher retries with backoff.

Which class serves which channel is a setting (`HUB_CHANNELS`), so that the
embedded defaults record SMS and calls locally, and tests can count calls.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class TransportError(Exception):
    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel:
    def send(self, message) -> str:
        raise NotImplementedError


class Email(Channel):
    """Through Django's mail API: the console by default, any anymail
    provider when EMAIL_BACKEND names one."""

    def send(self, message) -> str:
        mail = EmailMessage(subject=message.subject, body=message.content, to=[message.to])
        try:
            mail.send()
        except OSError as error:  # SMTP and connection errors: try again later
            raise TransportError(f"email provider unreachable: {type(error).__name__}") from error
        status = getattr(mail, "anymail_status", None)
        return (status.message_id if status is not None else None) or f"local-{message.public_id}"


class LocalRecorder(Channel):
    """Records what would be sent: the Message row already holds the exact
    content and recipient, which the local message page shows."""

    def send(self, message) -> str:
        log.info("local %s recorded for message %s", message.channel, message.public_id)
        return f"local-{message.public_id}"


def channel_for(name: str) -> Channel:
    return import_string(settings.HUB_CHANNELS[name])()
