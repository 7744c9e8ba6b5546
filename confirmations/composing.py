"""The appointment messages and the SMS answers, as the outbox sends them.

The outbox knows nothing of appointments: this module registers with it
how each of these kinds is re-checked and written when it is due (D4, D9,
R12, R14, R20), and listens to what the outbox says happened to a message,
to write it in its appointment's history and status (R29).
"""

from dataclasses import dataclass

from django.conf import settings
from django.dispatch import receiver

from confirmations import answers, rules
from confirmations.content import render, snapshot_of
from confirmations.planning import facts_of
from confirmations.replies import confirmable
from history.events import Reason, event
from outbox import kinds
from outbox.contacts import ALL_CHANNELS, VOICE, contact_for, opted_out_numbers
from outbox.dispatch import mark_failed, postponed, withdrawn
from outbox.models import Message
from outbox.signals import message_noted, message_sent, reply_recorded
from outbox.waker import queue
from schedules.actors import HUB
from schedules.models import Appointment, StatusChange

SENT_STATUS = {
    "email": Appointment.Status.SENT_EMAIL,
    "sms": Appointment.Status.SENT_SMS,
    "voice": Appointment.Status.SENT_VOICE,
}


@dataclass(frozen=True)
class Batch:
    """What the messages of a batch need to know of their appointments."""

    appointments: dict
    opted_out: set[str]


def load(messages: list[Message]) -> Batch:
    """Their appointments and their patients' opted-out numbers: two queries."""
    appointments = Appointment.objects.select_related("patient", "professional__clinic", "service").in_bulk(
        [message.appointment_id for message in messages if message.appointment_id]
    )
    patients = [message.patient for message in messages] + [a.patient for a in appointments.values()]
    return Batch(appointments, opted_out_numbers(patients))


def prepare(message: Message, batch: Batch, now) -> str | None:
    """D4, D9, R12, R14, R20 for one claimed appointment message: fills in
    what it will say and to whom, or settles it (withdrawn, failed, postponed)."""
    appointment, opted_out = batch.appointments.get(message.appointment_id), batch.opted_out
    current = facts_of(appointment, opted_out=opted_out) if appointment else None
    due = rules.Due(message.kind, message.planned_start, message.patient_id)
    reason = rules.recheck(due, current, now)
    if reason:
        return withdrawn(message, reason)

    contact = contact_for(message.patient, skip=message.skip_contacts, opted_out=opted_out)
    anyhow = contact_for(message.patient, skip=message.skip_contacts, opted_out=opted_out, channels=ALL_CHANNELS)
    if contact is not None and anyhow is not None and contact.channel != anyhow.channel:
        # R19: a contact by a channel this Hub does not send by is skipped; the history says so, once.
        note_channel_off(message, anyhow.channel)
    if contact is None:
        reason = Reason.NO_CHANNEL if anyhow is not None else Reason.NO_CONTACT
        return mark_failed(message, reason)  # R19, D9
    if contact.channel == VOICE:
        if message.kind == rules.CONFIRMATION and message.planned_start - now < rules.REMINDER_LEAD:
            # The patient can now only be called: no confirmation call under 48 h.
            return withdrawn(message, Reason.NO_CONFIRMATION_CALL)  # R12
        placed = rules.call_time(now, message.snapshot.get("time_zone", settings.TIME_ZONE))
        if placed >= message.planned_start:
            return withdrawn(message, Reason.NO_CALL_WINDOW)  # R14, D3
        if placed > now:
            return postponed(message, placed)

    # A cancellation tells of the appointment as it was; anything else of
    # the appointment as it is now, in the language it asks for now (R20).
    if message.kind != rules.CANCELLATION and appointment is not None:
        message.language = appointment.language
        snapshot = snapshot_of(appointment)
    else:
        snapshot = message.snapshot
    rendered = render(message.kind, contact.channel, message.language, snapshot, message.appointment_ref)
    message.channel, message.to = contact.channel, contact.to
    message.subject, message.content, message.html = rendered.subject, rendered.text, rendered.html
    message.attempts += 1
    return None


def prepare_answer(message: Message, batch: Batch, now) -> str | None:
    """An answer goes to the number that wrote, opted out or not (the
    carriers want STOP confirmed), in the language of the appointment it
    concerns (its booking language, R20), or else of the patient's record,
    as they are now."""
    if message.channel not in settings.HUB_CHANNELS or not settings.HUB_CHANNELS[message.channel]:
        return mark_failed(message, Reason.NO_CHANNEL)
    appointment = batch.appointments.get(message.appointment_id)
    if appointment is not None:
        language = appointment.language
    else:
        language = message.patient.language if message.patient is not None else message.language
    message.language = language if language in answers.TEXTS else "fr"
    message.subject, message.html = "", ""
    message.content = answers.write(message.snapshot, message.language)
    message.attempts += 1
    return None


def note_channel_off(message: Message, channel: str) -> None:
    said = event("channel_off", message=message.kind, channel=channel)
    history = StatusChange.objects.filter(appointment_ref=message.appointment_ref).values_list("events", flat=True)
    if not any(said in events for events in history):  # a message tried again says it once
        write_down(message, said)


def register() -> None:
    """Called when the app starts (ConfirmationsConfig.ready)."""
    reminder = kinds.Composer(
        prepare,
        load,
        asks_for_key_1=True,  # R28
        key_1_confirms=lambda message: confirmable(message.appointment, message),
    )
    kinds.register([rules.REMINDER], reminder)
    kinds.register([rules.CONFIRMATION, rules.MODIFICATION, rules.CANCELLATION], kinds.Composer(prepare, load))
    kinds.register([Message.Kind.ANSWER], kinds.Composer(prepare_answer, load))


@receiver(message_sent, sender=Message)
def note_sent(sender, message: Message, **kwargs) -> None:
    """R29: the status says a confirmation went out; the note says when and where.

    One conditional UPDATE writes only the status and the note, so that a
    change staff made while the provider was called stands."""
    if message.appointment_ref is None:
        return  # an answer: its reply says it was sent
    sent = {"channel": message.channel, "to": message.to, "at": message.sent_at}
    note, history = event("latest", **sent), event("sent", message=message.kind, **sent)
    sent_status = SENT_STATUS[message.channel] if message.kind != rules.CANCELLATION else None
    status = (
        Appointment.note_communication(message.appointment_id, message.patient_id, note, sent_status)
        if message.appointment_id
        else None
    )
    if status is None:
        # A deleted appointment, or the former patient of D13: history only.
        write_down(message, history)
        return
    StatusChange.write_down(
        message.appointment_ref, message.clinic_id, status, [history], actor=HUB, appointment_id=message.appointment_id
    )


@receiver(message_noted, sender=Message)
def note_in_history(sender, message: Message, said: dict, actor, **kwargs) -> None:
    write_down(message, said, actor)


def write_down(message: Message, said: dict, actor=HUB) -> None:
    """What happened to a message, in its appointment's history (kept after
    the appointment is deleted, D7)."""
    if message.appointment_ref is None:
        return  # an answer: no appointment's history to write in
    appointment = Appointment.objects.filter(pk=message.appointment_id).values("pk", "status").first()
    status = appointment["status"] if appointment else Appointment.Status.CANCELLED
    StatusChange.write_down(
        message.appointment_ref,
        message.clinic_id,
        status,
        [said],
        actor=actor,
        appointment_id=appointment["pk"] if appointment else None,
    )


@receiver(reply_recorded)
def read_reply(sender, reply_id: int, **kwargs) -> None:
    """The worker reads a patient's reply (confirmations/replies.py)."""
    queue("confirmations.tasks.understand_reply", reply_id)
