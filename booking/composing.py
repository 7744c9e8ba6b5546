"""One-time codes and waiting list offers, as the outbox sends them: how
each is re-checked and written when it is due (registered with the outbox
when the app starts)."""

from django.conf import settings
from django.utils import timezone

from booking import codes, offers
from history.events import Reason
from outbox import kinds
from outbox.dispatch import mark_failed, withdrawn
from outbox.models import Message


def prepare_code(message: Message, loaded, now) -> str | None:
    """A one-time code goes to the address the patient typed, in the
    language of the booking page, while it is still valid."""
    if not settings.HUB_CHANNELS.get(message.channel):
        return mark_failed(message, Reason.NO_CHANNEL)
    if codes.expired(message.snapshot, timezone.now()):
        return withdrawn(message, Reason.CODE_EXPIRED)
    message.subject, message.content, message.html = codes.write(message.snapshot, message.language, message.channel)
    message.attempts += 1
    return None


def prepare_offer(message: Message, loaded, now) -> str | None:
    """A waiting list offer goes while it is open, in the patient's language of the moment (R20)."""
    if not settings.HUB_CHANNELS.get(message.channel):
        return mark_failed(message, Reason.NO_CHANNEL)
    offer = offers.of(message)
    if offer is None or not offers.still_open(offer):
        return withdrawn(message, Reason.OFFER_CLOSED)
    # The page's language when the patient joined from the booking page (R20), else the record's now.
    chosen = offer.entry.language or (message.patient.language if message.patient is not None else None)
    message.language = chosen or message.language
    message.subject, message.content, message.html = offers.write(offer, message.language, message.channel)
    message.attempts += 1
    return None


def register() -> None:
    """Called when the app starts (BookingConfig.ready)."""
    kinds.register([Message.Kind.CODE], kinds.Composer(prepare_code))
    kinds.register([Message.Kind.OFFER], kinds.Composer(prepare_offer))
