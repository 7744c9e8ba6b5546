"""Understanding what patients answer (R27, R28, D11).

The webhooks only record a `Reply`; the worker reads it here. An SMS of
"OK", "Oui" or "Yes" (case, accents, spaces and punctuation ignored)
confirms the upcoming appointment of the most recent Hub SMS sent to that
number. STOP, ARRÊT and Twilio's opt-out words opt the number out of SMS;
START and UNSTOP opt it back in. Pressing 1 during a reminder call confirms
that appointment. Anything else changes nothing and stays for staff to read.
"""

import re
import unicodedata

from django.db import transaction
from django.utils import timezone

from confirmations.events import event
from confirmations.models import Message, OptOut, Reply
from schedules.actors import PATIENT, acting_as
from schedules.models import Appointment

CONFIRM_WORDS = {"OK", "OUI", "YES"}
# Twilio's English opt-out keywords, and the French ones.
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "ARRET", "ARRETER"}
OPT_IN_WORDS = {"START", "UNSTOP"}


def normalize(body: str) -> str:
    """' Oui! ' → 'OUI', 'Arrêt' → 'ARRET': letters and digits only, no accents."""
    decomposed = unicodedata.normalize("NFKD", body)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[^A-Z0-9]", "", letters.upper())


def understand(reply_id: int) -> str:
    """Reads one reply (once: a reply already read is left as it is)."""
    with transaction.atomic():
        reply = Reply.objects.select_for_update().get(pk=reply_id)
        if reply.outcome != Reply.Outcome.RECEIVED:
            return reply.outcome
        reply.outcome = _read(reply)
        reply.save(update_fields=["outcome", "message", "clinic"])
        return reply.outcome


def _read(reply: Reply) -> str:
    if reply.channel == Reply.Channel.VOICE:
        if reply.body != "1":
            return Reply.Outcome.NOT_UNDERSTOOD
        return _confirm(reply, reply.message, Appointment.Status.CONFIRMED_VOICE)  # R28

    reply.message = (
        # The last SMS sent before the reply came in (not before it was read).
        Message.objects.filter(channel=Message.Channel.SMS, to=reply.number, sent_at__lte=reply.received_at)
        .order_by("-sent_at", "-id")
        .first()
    )
    reply.clinic_id = reply.message.clinic_id if reply.message else None
    word = normalize(reply.body)
    if word in OPT_OUT_WORDS:
        OptOut.objects.get_or_create(number=reply.number)
        return Reply.Outcome.OPTED_OUT
    if word in OPT_IN_WORDS:
        OptOut.objects.filter(number=reply.number).delete()
        return Reply.Outcome.OPTED_IN
    if word in CONFIRM_WORDS:
        return _confirm(reply, reply.message, Appointment.Status.CONFIRMED_SMS)  # R27
    return Reply.Outcome.NOT_UNDERSTOOD


def confirmable(appointment: Appointment | None, message: Message) -> bool:
    """An answer to `message` may confirm `appointment`: still booked, still
    to come, still the patient the message went to."""
    return (
        appointment is not None
        and appointment.is_active
        and appointment.start > timezone.now()
        and appointment.patient_id == message.patient_id
    )


def _confirm(reply: Reply, message: Message | None, status: str) -> str:
    appointment = (
        Appointment.objects.select_for_update().filter(pk=message.appointment_id).first()
        if message is not None and message.appointment_id
        else None
    )
    if not confirmable(appointment, message):
        return Reply.Outcome.NO_APPOINTMENT
    if appointment.is_confirmed:
        return Reply.Outcome.ALREADY
    appointment.status = status
    by_sms = reply.channel == Reply.Channel.SMS
    appointment.history_event = event("confirmed_by_sms" if by_sms else "confirmed_by_call")
    with acting_as(PATIENT):
        appointment.save(update_fields=["status", "updated_at"])
    return Reply.Outcome.CONFIRMED


def understand_waiting() -> int:
    """Reads every reply still waiting (normally none: each has its own task)."""
    waiting = list(Reply.objects.filter(outcome=Reply.Outcome.RECEIVED).values_list("pk", flat=True))
    for reply_id in waiting:
        understand(reply_id)
    return len(waiting)
