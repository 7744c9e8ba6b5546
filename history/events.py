"""What happened, recorded as a kind and its values; written out when read.

The Hub never stores a sentence for people to read: an appointment's
history, its latest communication and why a message was not sent are kept
as events, `{"kind": "sent", "message": "reminder", "channel": "sms",
"to": "+15145550204", "at": "2026-12-03T19:30:00+00:00"}`, and `write()`
turns one into a sentence in the reader's language, with the clinic's
clock, the number in its national form and the date in the one style of
that language. Rule codes (R19, D9…) stay in the code; nothing written out
names them.
"""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import phonenumbers
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from history.dates import clock, reader_language, staff_moment


class Reason(models.TextChoices):
    """Why a message was withdrawn, failed, or may not have arrived."""

    # The appointment changed before the message went (D4).
    PAST = "past", _("the appointment is already past")
    NO_LONGER_CANCELLED = "no_longer_cancelled", _("the appointment is no longer cancelled")
    DELETED = "deleted", _("the appointment was deleted")
    CANCELLED = "cancelled", _("the appointment was cancelled")
    PATIENT_CHANGED = "patient_changed", _("the patient was changed")
    MOVED = "moved", _("the appointment was moved")
    MODIFIED = "modified", _("the appointment was modified")
    LEFT_HUB = "left_hub", _("the appointment no longer goes through the Hub")
    CODE_EXPIRED = "code_expired", _("the code expired before it could be sent")
    OFFER_CLOSED = "offer_closed", _("the offer ended before it could be sent")
    # Nobody to send it to, or no time to call (R19, D9, R12, R14, D3).
    NO_CONTACT = "no_contact", _("no usable contact in the patient record")
    NO_CHANNEL = "no_channel", _("no contact in the patient record by a channel this Hub sends by")
    NO_CONFIRMATION_CALL = "no_confirmation_call", _("no confirmation call less than 48 hours ahead")
    NO_CALL_WINDOW = "no_call_window", _("no time left to call before the appointment")
    # What the provider did, or the Hub (D15).
    TEMPORARY = "temporary", _("the provider could not take it")
    BAD_ADDRESS = "bad_address", _("the address or number does not work")
    REFUSED = "refused", _("the provider refused it")
    NO_ANSWER = "no_answer", _("the provider did not answer after receiving it")
    WORKER_STOPPED = "worker_stopped", _("sending was interrupted")
    UNEXPECTED = "unexpected", _("unexpected error in the Hub")
    # What the provider reported later.
    LINE_BUSY = "line_busy", _("the line was busy")
    NOBODY_ANSWERED = "nobody_answered", _("nobody answered")
    CALL_NOT_PLACED = "call_not_placed", _("the call could not be placed")
    CALL_CANCELLED = "call_cancelled", _("the call was cancelled")
    SMS_NOT_DELIVERED = "sms_not_delivered", _("the SMS was not delivered")
    EMAIL_BOUNCED = "email_bounced", _("the recipient's server returned the email")
    EMAIL_REJECTED = "email_rejected", _("the email provider refused it")


def because(reason: str, detail: str = "") -> str:
    """A reason, and the provider's own words when there are some (they are
    technical, and kept as the provider wrote them)."""
    label = Reason(reason).label if reason in Reason.values else reason
    return f"{label} ({detail})" if detail else str(label)


# Each kind of event, and how it reads. %(Message)s is the message's kind
# with a capital ("Reminder"), %(message)s without.
TEXTS = {
    # An appointment's life.
    "booked": _("Booked."),
    "deleted": _("Deleted."),
    "not_handled": _("The Hub sends nothing: %(hub_reason)s."),
    "left_hub": _("The Hub will send nothing more for this appointment (%(hub_reason)s); the patient is not told."),
    "withdrawn": _("Pending messages withdrawn: %(reason)s."),
    "must_confirm_again": _("Modified: the patient will be told, and must confirm again."),
    "service_changed": _("Service changed: the patient is not told."),
    "moved": _("Moved from %(before)s to %(after)s."),
    "past": _("The appointment is in the past: nothing is sent."),
    "call_only": _("Phone call less than 48 hours ahead: only the reminder call is placed."),
    "no_reminder": _("Less than 4 hours ahead: no reminder."),
    "call_dropped": _(
        "The %(message)s call is dropped: calls are placed from %(opens)s to %(closes)s, "
        "and the next window opens after the appointment."
    ),
    "cancelled_online": _("Cancelled by the patient with the email's link."),
    "confirmed_online": _("Confirmed by the patient with the email's link."),
    "confirmed_by_sms": _("Confirmed by the patient by SMS."),
    "confirmed_by_call": _("Confirmed by the patient by phone (key 1)."),
    # What the patient answered by SMS that staff should know.
    "sms_stopped": _("The patient's mobile %(to)s answered %(word)s: no SMS goes to it until it answers START."),
    "sms_restarted": _("The patient's mobile %(to)s answered %(word)s: SMS may go to it again."),
    "wants_to_cancel": _(
        "The patient asked by SMS to cancel. An SMS cannot cancel: the patient was told to call the clinic."
    ),
    "reply_handled": _("A reply of the patient's by SMS was handled."),
    # Its messages.
    "planned_now": _("%(Message)s: to be sent now."),
    "planned": _("%(Message)s: to be sent on %(at)s."),
    "sent": _("%(Message)s sent by %(channel)s on %(at)s to %(to)s."),
    "send_withdrawn": _("%(Message)s not sent: %(reason)s."),
    "failed": _("%(Message)s failed: %(reason)s."),
    "fallback": _("%(Message)s to %(to)s failed for good (%(reason)s); sent once more to the next contact."),
    "no_fallback": _("%(Message)s: the patient record has no other contact this Hub can use; it is not sent again."),
    "unknown": _(
        "%(Message)s: outcome unknown (%(reason)s). The patient may or may not have received it; "
        "it will not be sent again automatically."
    ),
    "channel_off": _("%(Message)s: %(channel)s is not set up on this Hub; the next contact is used."),
    "sent_again": _("%(Message)s sent again by hand (it was: %(state)s)."),
    # The latest communication, as the appointment list shows it (R29).
    "latest": _("Sent by %(channel)s on %(at)s to %(to)s"),
}


def event(kind: str, **values) -> dict:
    """An event to store. Values are codes, addresses and instants, never text to read."""
    if kind not in TEXTS:
        raise ValueError(f"unknown event kind {kind!r}")
    for name, value in values.items():
        if isinstance(value, datetime):
            values[name] = value.isoformat()
    return {"kind": kind, **values}


def write(happened: dict, time_zone: str = "America/Toronto", language: str | None = None) -> str:
    """The event as a sentence, in `language` (default: the active one) and
    the clinic's `time_zone`. A note kept from before events were recorded
    reads as it was written."""
    with translation.override(language or translation.get_language()):
        kind = happened.get("kind", "")
        if kind == "note":
            return happened.get("text", "")
        if kind not in TEXTS:
            return kind
        return str(TEXTS[kind]) % _values(happened, time_zone)


def write_all(events: list, time_zone: str = "America/Toronto", language: str | None = None) -> str:
    return " ".join(write(happened, time_zone, language) for happened in events or [])


# What the codes an event carries read as (a message's kind, its channel and
# state, why the Hub sends nothing) and the call window's hours: given by the
# apps that own them when they start (`name_codes`, `name_hours`), so that
# this module, at the bottom of the house, imports none of them.
_CODES: dict[str, type[models.TextChoices]] = {}
_HOURS: dict[str, time] = {}


def name_codes(**choices: type[models.TextChoices]) -> None:
    """`name_codes(message=Message.Kind)`: how the value `message` reads."""
    _CODES.update(choices)


def name_hours(**hours: time) -> None:
    """`name_hours(opens=time(9), closes=time(20))`: hours events mention."""
    _HOURS.update(hours)


def _values(happened: dict, time_zone: str) -> dict:
    language = reader_language()
    label = _code("message", happened.get("message", ""))
    at = happened.get("at")
    moments = {
        name: staff_moment(datetime.fromisoformat(happened[name]), time_zone, language) if happened.get(name) else ""
        for name in ("before", "after")
    }
    today = datetime.now(ZoneInfo(time_zone)).date()
    return {
        **moments,
        **{name: clock(datetime.combine(today, hour), language) for name, hour in _HOURS.items()},
        "message": label,
        "Message": label[:1].upper() + label[1:],
        "channel": _code("channel", happened.get("channel", "")),
        "to": readable_contact(happened.get("to", "")),
        "at": staff_moment(datetime.fromisoformat(at), time_zone, language) if at else "",
        "reason": because(happened.get("reason", ""), happened.get("detail", "")),
        "hub_reason": _code("hub_reason", happened.get("hub_reason", "")),
        "state": _code("state", happened.get("state", "")),
        "word": happened.get("word", ""),
    }


def _code(name: str, value: str) -> str:
    choices = _CODES.get(name)
    return _label(choices, value) if choices is not None else value


def _label(choices, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def readable_contact(to: str) -> str:
    """An address as it is; a Canadian number as people write it, "(514) 555-0204"."""
    if not to.startswith("+"):
        return to
    try:
        number = phonenumbers.parse(to, "CA")
    except phonenumbers.NumberParseException:
        return to
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
