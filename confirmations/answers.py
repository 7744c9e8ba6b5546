"""The Hub's answers to SMS keywords and cancellation requests.

An answer is a message like any other: a row in the outbox, sent once by
the dispatcher, to the number that wrote (even one that just opted out:
carriers require that one confirmation). What it says is kept as a topic
and values and written when it is sent.

The answers to STOP, START and HELP are in French and in English, the
patient's language first: the carriers' rules want them understood by
whoever holds the phone. The answer to a cancellation request is in the
patient's language (both when the number is nobody the Hub knows).
"""

from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from confirmations.patient_pages import can_cancel_online
from history.phones import spoken_phone
from outbox import sms
from outbox.models import Message

STOPPED, STARTED, HELP, CANCEL_REQUEST = "stopped", "started", "help", "cancel_request"
OFFER_GONE = "offer_gone"  # a YES to a waiting list offer that ended or was taken
# The same YES from a patient no longer on the list: she booked from another
# offer, or was taken off it (never "you stay on the waiting list").
OFFER_GONE_BOOKED, OFFER_GONE_REMOVED = "offer_gone_booked", "offer_gone_removed"
BILINGUAL = {STOPPED, STARTED, HELP}

TEXTS = {
    "fr": {
        STOPPED: "{clinic}vous ne recevrez plus de textos de notre part. Pour les recevoir de nouveau, répondez START.",
        STARTED: "{clinic}vous recevrez de nouveau nos textos. Pour ne plus les recevoir, répondez ARRET.",
        HELP: "{clinic}avis et rappels de rendez-vous.{phone} Pour ne plus recevoir de textos, répondez ARRET.",
        CANCEL_REQUEST: "{clinic}un texto ne peut pas annuler un rendez-vous. Pour annuler, appelez la clinique"
        "{phone_at}{email_link}.",
        OFFER_GONE: "{clinic}désolé, cette plage n’est plus disponible. Vous restez sur la liste d’attente.",
        OFFER_GONE_BOOKED: "{clinic}cette offre a pris fin\u00a0: vous avez déjà pris un rendez-vous grâce à la "
        "liste d’attente.",
        OFFER_GONE_REMOVED: "{clinic}cette offre a pris fin.",
    },
    "en": {
        STOPPED: "{clinic}you will no longer receive texts from us. To receive them again, reply START.",
        STARTED: "{clinic}you will receive our texts again. To stop them, reply STOP.",
        HELP: "{clinic}appointment notices and reminders.{phone} To stop receiving texts, reply STOP.",
        CANCEL_REQUEST: "{clinic}a text cannot cancel an appointment. To cancel, call the clinic{phone_at}"
        "{email_link}.",
        OFFER_GONE: "{clinic}sorry, this time is no longer available. You stay on the waiting list.",
        OFFER_GONE_BOOKED: "{clinic}this offer has ended: you already booked an appointment from the waiting list.",
        OFFER_GONE_REMOVED: "{clinic}this offer has ended.",
    },
}
PIECES = {
    "fr": {
        "clinic": "{} : ",
        "phone": " Information : {}.",
        "phone_at": " au {}",
        "email_link": " ou utilisez le lien Annuler de votre courriel",
        "also_stopped": " Vous ne recevrez plus de textos de notre part ; "
        "pour les recevoir de nouveau, répondez START.",
    },
    "en": {
        "clinic": "{}: ",
        "phone": " Information: {}.",
        "phone_at": " at {}",
        "email_link": " or use the Cancel link in your email",
        "also_stopped": " You will no longer receive texts from us; to receive them again, reply START.",
    },
}


def about(topic: str, clinic=None, patient=None, appointment=None, stopped: bool = False) -> dict:
    """What an answer will say, as values (its snapshot)."""
    phone = clinic.phone.as_e164 if clinic is not None and isinstance(clinic.phone, PhoneNumber) else ""
    return {
        "answer": topic,
        "clinic": clinic.name if clinic is not None else "",
        "clinic_phone": phone,
        "email_link": appointment is not None and has_cancel_link(appointment),
        "stopped": stopped,
        "language_known": patient is not None,
    }


def has_cancel_link(appointment) -> bool:
    """The patient holds an email of this appointment with a Cancel link
    that still works: one went out (email comes first, R19, but may have
    bounced or be off), and online cancellation is still open (R25)."""
    with_link = [Message.Kind.CONFIRMATION, Message.Kind.REMINDER, Message.Kind.MODIFICATION]
    emailed = appointment.messages.filter(
        channel=Message.Channel.EMAIL,
        kind__in=with_link,
        state__in=[Message.State.SENT, Message.State.DELIVERED],
        patient_id=appointment.patient_id,
    )
    return can_cancel_online(appointment) and emailed.exists()


def write(snapshot: dict, language: str) -> str:
    """The answer's text: both languages, `language` first, where the rules
    want both; otherwise in `language`."""
    topic = snapshot["answer"]
    if topic in BILINGUAL or not snapshot.get("language_known"):
        other = "en" if language == "fr" else "fr"
        return "\n".join(_one(snapshot, lang) for lang in (language, other))
    return _one(snapshot, language)


def _one(snapshot: dict, language: str) -> str:
    pieces = PIECES[language]
    phone = spoken_phone(snapshot["clinic_phone"])
    text = TEXTS[language][snapshot["answer"]].format(
        clinic=pieces["clinic"].format(snapshot["clinic"]) if snapshot["clinic"] else "",
        phone=pieces["phone"].format(phone) if phone else "",
        phone_at=pieces["phone_at"].format(phone) if phone else "",
        email_link=pieces["email_link"] if snapshot.get("email_link") else "",
    )
    if snapshot["answer"] == CANCEL_REQUEST and snapshot.get("stopped"):
        text += pieces["also_stopped"]
    if not snapshot["clinic"]:
        text = text[:1].upper() + text[1:]
    return sms.plain(text)


def plan(reply, topic: str, patient=None, appointment=None, upcoming=None, stopped: bool = False):
    """The answer to `reply`, in the outbox, due now. `appointment`: the one
    the reply is about, whose page lists the answer; `upcoming`: the same,
    when it is still to come (only then is its Cancel link mentioned)."""
    clinic = reply.clinic
    return Message.objects.create(
        kind=Message.Kind.ANSWER,
        appointment=appointment,
        clinic=clinic,
        patient=patient,
        channel=Message.Channel.SMS,
        to=reply.number,
        language=patient.language if patient is not None else "fr",
        due_at=timezone.now(),
        snapshot=about(topic, clinic, patient, upcoming, stopped),
    )
