"""Which contact the Hub uses for a patient (R19, D9).

Resolved when a message is sent, from the patient record as it is then:
the first usable of email, other email, mobile (SMS), phone (voice call).
"Other mobile" and "other phone" are never used. A malformed entry is
skipped for the next one, and so is a mobile that opted out of SMS, or a
contact that already failed for good for this communication.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from phonenumber_field.phonenumber import to_python

from outbox.models import OptOut

EMAIL, SMS, VOICE = "email", "sms", "voice"

# R19, in order: (patient field, channel).
ORDER = [("email", EMAIL), ("other_email", EMAIL), ("mobile", SMS), ("phone", VOICE)]


@dataclass(frozen=True)
class Contact:
    channel: str
    to: str  # an email address, or a number in E.164


def _usable(channel: str, value) -> str | None:
    if not value:
        return None
    if channel == EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            return None
        return value
    number = to_python(value, region="CA")
    if number is None or not number.is_valid():
        return None
    return number.as_e164


def usable_email(value: str) -> bool:
    """Whether messages can go to this address: the booking page's forms
    ask the same, so that no address they take is passed over later
    (Django's check refuses an accent before the @: it needs SMTPUTF8)."""
    return _usable(EMAIL, value) is not None


def contacts_of(patient) -> list[Contact]:
    """Every usable contact of the patient, in R19 order."""
    contacts = []
    for field, channel in ORDER:
        to = _usable(channel, getattr(patient, field))
        if to is not None:
            contacts.append(Contact(channel, to))
    return contacts


def contact_for(
    patient, skip: list[str] | tuple = (), opted_out: set[str] | None = None, channels: set[str] | None = None
) -> Contact | None:
    """The contact a message to this patient goes to now (D9). `opted_out`:
    the opted-out numbers, when the caller already read them (a batch).
    `channels`: those this Hub can send by (default: the configured ones);
    a contact by another channel is skipped for the next one (R19)."""
    if patient is None:
        return None
    channels = configured_channels() if channels is None else channels
    contacts = [contact for contact in contacts_of(patient) if contact.to not in skip and contact.channel in channels]
    if opted_out is None:
        opted_out = opted_out_numbers([patient])
    contacts = [c for c in contacts if not (c.channel == SMS and c.to in opted_out)]
    return contacts[0] if contacts else None


ALL_CHANNELS = frozenset({EMAIL, SMS, VOICE})


def configured_channels() -> frozenset[str]:
    """The channels this Hub sends by (settings.HUB_CHANNELS): a Hub may run
    with email alone, or SMS and calls alone."""
    from django.conf import settings

    return frozenset(name for name, sender in settings.HUB_CHANNELS.items() if sender)


def opted_out_numbers(patients) -> set[str]:
    """Which of these patients' mobile numbers opted out of SMS: one query."""
    numbers = {to for patient in patients if patient is not None and (to := _usable(SMS, patient.mobile))}
    # With no numbers, Django answers `__in=[]` without a query.
    return set(OptOut.objects.filter(number__in=numbers).values_list("number", flat=True))
