"""What a message says, rendered when it is sent (R20–R24, D10).

Content comes from the appointment as it is at send time, or, for a
cancellation (whose appointment may be gone, or may since belong to another
patient, D13), from the snapshot taken when it was planned.
"""

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone, translation
from phonenumber_field.phonenumber import PhoneNumber

from confirmations import links, rules
from history.dates import long_date
from history.phones import spoken_phone
from outbox import sms

TYPE_WORDS = {
    # R5: what kind of appointment the message announces.
    "fr": {"in_person": "en personne", "phone": "téléphonique", "virtual": "virtuel", "home": "à domicile"},
    "en": {"in_person": "in-person", "phone": "phone", "virtual": "virtual", "home": "home"},
}

# R24, word for word. The clinic phone is said twice on purpose.
# "{of_patient}" is the script's "de {nom du patient}", elided as French
# requires ("d'Alice", `of_name`).
VOICE = {
    "fr": {
        "confirmation": "Ce message est pour confirmer le rendez-vous {type} {of_patient}, le {date} avec "
        "{professional} à {clinic}.",
        "reminder": "Ce message est pour vous rappeler le rendez-vous {type} {of_patient}, le {date} avec "
        "{professional} à {clinic}. Appuyez sur 1 pour confirmer votre rendez-vous.",
        "modification": "Ce message est pour vous informer d'une modification faite au rendez-vous {type} "
        "{of_patient}, le {date} avec {professional} à {clinic}. Pour plus d'information, vous pouvez contacter "
        "la clinique au {phone}, le {phone}.",
        "cancellation": "Ce message est pour vous informer de l'annulation du rendez-vous {type} {of_patient}, "
        "le {date} à {clinic}. Pour plus d'information, vous pouvez contacter la clinique au {phone}, "
        "le {phone}.",
    },
    "en": {
        "confirmation": "This message is to confirm {patient}'s {type} appointment {date} with {professional} "
        "at {clinic}.",
        "reminder": "This message is to remind you of {patient}'s {type} appointment {date} with "
        "{professional} at {clinic}. Press one to confirm your appointment.",
        "modification": "This message is to inform you of a change to {patient}'s {type} appointment {date} "
        "with {professional} at {clinic}. For more information, please contact the clinic at {phone}, "
        "at {phone}.",
        "cancellation": "This message is to inform you that {patient}'s {type} appointment on {date} at {clinic} "
        "has been cancelled. For more information, please contact the clinic at {phone}, at {phone}.",
    },
}

# R23: date and time, clinic, professional, type; no link (an SMS cannot
# cancel). Plain spaces and apostrophes: typographic ones would force the
# whole SMS into UCS-2 and halve its length.
SMS = {
    "fr": {
        "confirmation": "{clinic} : rendez-vous {type} {of_patient} confirmé le {date} avec {professional}.",
        "reminder": "{clinic} : rappel du rendez-vous {type} {of_patient} le {date} avec {professional}. "
        "Répondez OUI pour confirmer.",
        "modification": "{clinic} : le rendez-vous {type} {of_patient} est modifié. Nouveau moment : le {date} "
        "avec {professional}.",
        "cancellation": "{clinic} : le rendez-vous {type} {of_patient} du {date} est annulé. Information : {phone}.",
    },
    "en": {
        "confirmation": "{clinic}: {patient}'s {type} appointment is booked on {date} with {professional}.",
        "reminder": "{clinic}: reminder of {patient}'s {type} appointment on {date} with {professional}. "
        "Reply YES to confirm.",
        "modification": "{clinic}: {patient}'s {type} appointment has changed. Now on {date} with {professional}.",
        "cancellation": "{clinic}: {patient}'s {type} appointment on {date} is cancelled. Information: {phone}.",
    },
}

SUBJECTS = {
    "fr": {
        "confirmation": "Confirmation de votre rendez-vous du {date}",
        "reminder": "Rappel\u00a0: votre rendez-vous du {date}",
        "modification": "Modification de votre rendez-vous\u00a0: {date}",
        "cancellation": "Annulation de votre rendez-vous du {date}",
    },
    "en": {
        "confirmation": "Your appointment on {date} is booked",
        "reminder": "Reminder: your appointment on {date}",
        "modification": "Your appointment has changed: {date}",
        "cancellation": "Your appointment on {date} is cancelled",
    },
}

# The "Type" line of an email.
TYPE_LABELS = {
    "fr": {"in_person": "En personne", "phone": "Par téléphone", "virtual": "Virtuel", "home": "À domicile"},
    "en": {"in_person": "In person", "phone": "By phone", "virtual": "Virtual", "home": "At home"},
}


def snapshot_of(appointment, patient=None) -> dict:
    """What a message says of an appointment, frozen (D7, D13)."""
    patient = patient or appointment.patient
    clinic = appointment.professional.clinic
    cancel_until = rules.cancel_online_until(appointment.start, appointment.service.cancellation_delay)
    return {
        "start": appointment.start.isoformat(),
        "time_zone": clinic.timezone,
        "patient": patient.full_name,
        "patient_ref": str(patient.public_id),
        "professional": appointment.professional.full_name,
        "clinic": clinic.name,
        "clinic_address": clinic.address,
        # Not the number's truth, which validates it again; "" when there is none.
        "clinic_phone": clinic.phone.as_e164 if isinstance(clinic.phone, PhoneNumber) else "",
        "clinic_email": clinic.email,
        "category": appointment.service.category,
        # R8: when the Cancel link stops working (None: it never works).
        "cancel_until": cancel_until.isoformat() if cancel_until else None,
    }


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str = ""


VOWELS = frozenset("aeiouœæ")


def of_name(name: str) -> str:
    """French "de" before a name: "de Jean", but "d'Alice", "d'Émilie",
    "d'Yves". A plain apostrophe, which an SMS keeps in GSM-7 (`sms.plain`)."""
    return f"d'{name}" if _starts_with_a_vowel_sound(name) else f"de {name}"


def _starts_with_a_vowel_sound(word: str) -> bool:
    # Letters without their accents: "É" is "e". An initial h is taken as
    # mute ("d'Hélène", "d'Hugo"), the common case for first names: the
    # spelling cannot tell the few aspirated ones ("de Hans"). A y before a
    # vowel sounds as a consonant ("de Yannick"); before a consonant, as a
    # vowel ("d'Yves").
    letters = [unicodedata.normalize("NFD", char)[0].lower() for char in word[:2]]
    if not letters:
        return False
    if letters[0] == "y":
        return len(letters) > 1 and letters[1] not in VOWELS
    return letters[0] in VOWELS or letters[0] == "h"


def fields(snapshot: dict, language: str) -> dict:
    start = datetime.fromisoformat(snapshot["start"])
    date = long_date(start, snapshot["time_zone"], language)
    return {
        "type": TYPE_WORDS[language].get(snapshot["category"], ""),
        "patient": snapshot["patient"],
        "of_patient": of_name(snapshot["patient"]),  # in French only
        "date": date,
        "professional": snapshot["professional"],
        "clinic": snapshot["clinic"],
        "phone": spoken_phone(snapshot["clinic_phone"]),
    }


def _may_cancel_online(snapshot: dict) -> bool:
    """R21, R25: a Cancel link only while it works, judged as the message is
    written (that is, sent); otherwise the email says how to reach the clinic."""
    until = snapshot.get("cancel_until")
    return rules.may_cancel_online(datetime.fromisoformat(until) if until else None, timezone.now())


def render(kind: str, channel: str, language: str, snapshot: dict, appointment_ref=None) -> Rendered:
    """The message in `language`; `appointment_ref` (its public id) and the
    snapshot's patient give the email its signed Cancel and Confirm links."""
    language = language if language in VOICE else "fr"
    values = fields(snapshot, language)
    if channel == "voice":
        return Rendered("", VOICE[language][kind].format(**values))
    if channel == "sms":
        return Rendered("", sms.plain(SMS[language][kind].format(**values)))
    context = {
        **values,
        "language": language,
        "subject": SUBJECTS[language][kind].format(**values),
        "type_label": TYPE_LABELS[language].get(snapshot["category"], ""),
        "clinic_address": snapshot["clinic_address"],
        "clinic_email": snapshot["clinic_email"],
    }
    if appointment_ref is not None and kind != "cancellation" and snapshot.get("patient_ref"):
        patient_ref = snapshot["patient_ref"]
        if _may_cancel_online(snapshot):
            context["cancel_url"] = links.url_for(appointment_ref, patient_ref, links.CANCEL, language)
        if kind == "reminder":
            context["confirm_url"] = links.url_for(appointment_ref, patient_ref, links.CONFIRM, language)  # R22
    with translation.override(language):
        text = render_to_string(f"confirmations/email/{kind}.{language}.txt", context)
        html = render_to_string(f"confirmations/email/{kind}.{language}.html", context)
    return Rendered(context["subject"], text.strip() + "\n", html)
