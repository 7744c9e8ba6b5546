"""What an offer says, and its link (the waiting list, D20).

An offer's message is written when it is sent, in the patient's language
of that moment (R20): by email, with a link to a page that takes it with
one button; by SMS, to be answered YES or OUI.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from booking.models import Offer
from history.dates import long_date
from outbox import sms

SALT = "hub.waitlist.offer"

TEXTS = {
    "fr": {
        "subject": "{clinic}\u00a0: une plage s’est libérée le {when}",
        "text": "{clinic}\u00a0: une plage s’est libérée pour {service} avec {professional} le {when}. "
        "Vous êtes sur notre liste d’attente.",
        "email": "Pour la prendre, ouvrez ce lien\u00a0: {link}",
        "sms": "Pour la prendre, répondez OUI.",
        "rule": "La première personne à accepter l’obtient. Offre valide jusqu’à {until}.",
    },
    "en": {
        "subject": "{clinic}: a time is free on {when}",
        "text": "{clinic}: a time became free for {service} with {professional} on {when}. "
        "You are on our waiting list.",
        "email": "To take it, open this link: {link}",
        "sms": "To take it, reply YES.",
        "rule": "The first person to accept gets it. Offer valid until {until}.",
    },
}


def token(offer) -> str:
    return signing.dumps(str(offer.public_id), salt=SALT, compress=True)


def read(value: str):
    """The offer a link's token names, or None (tampered, unknown)."""
    try:
        public_id = signing.loads(value, salt=SALT)
    except signing.BadSignature:
        return None
    return (
        Offer.objects.select_related("entry__patient", "entry__service", "entry__clinic", "slot__professional")
        .filter(public_id=public_id)
        .first()
        if isinstance(public_id, str) and len(public_id) == 36
        else None
    )


def link(offer) -> str:
    return f"{settings.HUB_PUBLIC_URL}{reverse('waitlist-offer', kwargs={'token': token(offer)})}"


def of(message):
    return (
        Offer.objects.select_related("entry__service", "entry__clinic", "slot__professional")
        .filter(message=message)
        .first()
    )


def still_open(offer) -> bool:
    """Open, in time, and for a time its slot still has (not deleted, nor
    changed by staff)."""
    return (
        offer.state == Offer.State.OPEN
        and timezone.now() < offer.expires_at
        and offer.slot_id is not None
        and offer.slot.start == offer.slot_start
    )


def write(offer, language: str, channel: str) -> tuple[str, str, str]:
    """(subject, text, html) of the offer."""
    language = language if language in TEXTS else "fr"
    texts, clinic = TEXTS[language], offer.entry.clinic
    values = {
        "clinic": clinic.name,
        "service": offer.entry.service.name(language),
        "professional": offer.slot.professional.full_name,
        "when": long_date(offer.slot_start, clinic.timezone, language),
        "until": long_date(offer.expires_at, clinic.timezone, language),
    }
    if channel == "sms":
        text = " ".join([texts["text"], texts["sms"], texts["rule"]]).format(**values)
        return "", sms.plain(text), ""
    url = link(offer)
    text = "\n\n".join([texts["text"], texts["email"], texts["rule"]]).format(**values, link=url)
    html = "".join(
        f"<p>{part}</p>"
        for part in (
            escape(texts["text"].format(**values)),
            f'<a href="{escape(url)}">{escape(url)}</a>',
            escape(texts["rule"].format(**values)),
        )
    )
    return texts["subject"].format(**values), text, html
