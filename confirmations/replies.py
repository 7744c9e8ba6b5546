"""Understanding what patients answer (R27, R28, D11).

The webhooks only record a `Reply`; the worker reads it here (keywords.py
says what a text means). An SMS of "OK", "Oui" or "Yes" confirms the
upcoming appointment of the most recent Hub SMS sent to that number. STOP,
ARRÊT and the carriers' opt-out words opt the number out of SMS; START and
UNSTOP opt it back in; HELP, AIDE and INFO ask who writes. A request to
cancel cannot cancel (R23): it is flagged for staff. Each of these is
answered through the outbox (answers.py). Pressing 1 during a reminder
call confirms that appointment. Anything else changes nothing and stays
for staff to read and mark handled.
"""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from confirmations import answers, keywords
from history.events import event
from outbox.models import Message, OptOut, Reply
from outbox.waker import wake_the_worker_after_commit
from schedules.actors import PATIENT
from schedules.models import Appointment

# What a YES to a message of these kinds does instead of confirming an
# appointment: registered by the app that sent it (booking, for its offers).
YES_TO: dict[str, Callable[[Reply], str]] = {}


def understand(reply_id: int) -> str:
    """Reads one reply (once: a reply already read is left as it is, and
    its answer is planned in the same transaction, so it is planned once)."""
    with transaction.atomic():
        reply = Reply.objects.select_for_update().get(pk=reply_id)
        if reply.outcome != Reply.Outcome.RECEIVED:
            return reply.outcome
        reply.outcome = _read(reply)
        reply.save(update_fields=["outcome", "message", "clinic", "answer"])
        return reply.outcome


def _read(reply: Reply) -> str:
    if reply.channel == Reply.Channel.VOICE:
        if reply.body != "1":
            return Reply.Outcome.NOT_UNDERSTOOD
        return confirm(reply, reply.message, Appointment.Status.CONFIRMED_VOICE)  # R28

    reply.message = (
        # The last SMS sent before the reply came in (not before it was read).
        Message.objects.filter(channel=Message.Channel.SMS, to=reply.number, sent_at__lte=reply.received_at)
        .exclude(kind__in=[Message.Kind.ANSWER, Message.Kind.CODE])  # an offer may be answered YES
        .select_related("patient", "clinic", "appointment__service", "appointment__patient")
        .order_by("-sent_at", "-id")
        .first()
    )
    reply.clinic = reply.message.clinic if reply.message else None
    meant = keywords.meaning(reply.body)
    if keywords.CONFIRM in meant:
        if reply.message is not None and reply.message.kind in YES_TO:
            return YES_TO[reply.message.kind](reply)  # D20: YES to the waiting list's offer
        return confirm(reply, reply.message, Appointment.Status.CONFIRMED_SMS)  # R27
    outcome, topic, said = Reply.Outcome.NOT_UNDERSTOOD, None, []
    if keywords.STOP in meant:
        OptOut.objects.get_or_create(number=reply.number)
        outcome, topic = Reply.Outcome.OPTED_OUT, answers.STOPPED
        said.append("sms_stopped")
    if keywords.START in meant:
        OptOut.objects.filter(number=reply.number).delete()
        outcome, topic = Reply.Outcome.OPTED_IN, answers.STARTED
        said.append("sms_restarted")
    if keywords.HELP in meant:
        outcome, topic = Reply.Outcome.HELP, answers.HELP
    if keywords.WANTS_TO_CANCEL in meant:
        # An SMS cannot cancel (R23): staff call the patient back.
        outcome, topic = Reply.Outcome.WANTS_TO_CANCEL, answers.CANCEL_REQUEST
        said.append("wants_to_cancel")
    _tell_staff(reply, said)
    if topic is not None and should_answer(reply, topic, stopped=keywords.STOP in meant):
        answer(reply, topic, stopped=keywords.STOP in meant)
    return outcome


# The same answer to the same number once in this long: a patient who sends
# HELP five times in a row gets one answer (each SMS is paid for).
ANSWER_AGAIN_AFTER = timedelta(minutes=5)


def should_answer(reply: Reply, topic: str, stopped: bool) -> bool:
    if not settings.HUB_SMS_ANSWERS:
        return False
    if topic == answers.CANCEL_REQUEST and not stopped and OptOut.objects.filter(number=reply.number).exists():
        return False  # it opted out: nothing but its opt-out answers go to it
    recent = Message.objects.filter(
        kind=Message.Kind.ANSWER,
        to=reply.number,
        snapshot__answer=topic,
        created_at__gte=reply.received_at - ANSWER_AGAIN_AFTER,
    )
    return not recent.exists()


def answer(reply: Reply, topic: str, stopped: bool) -> None:
    appointment = reply.appointment
    upcoming = appointment if confirmable(appointment, reply.message) else None
    patient = reply.message.patient if reply.message is not None else None
    reply.answer = answers.plan(
        reply, topic, patient=patient, appointment=appointment, upcoming=upcoming, stopped=stopped
    )
    wake_the_worker_after_commit()


def _tell_staff(reply: Reply, kinds: list[str]) -> None:
    """The history of the appointment the reply answers says what the
    patient asked: for STOP and START the keyword, which is the whole reply;
    never the patient's own words (those stay on the reply, erased with it
    after the retention period: "annulez, j'ai une chimio demain")."""
    appointment = reply.appointment
    if appointment is not None and kinds:
        said = [_said(kind, reply) for kind in kinds]
        appointment.write_in_history(said, actor=PATIENT)


def _said(kind: str, reply: Reply) -> dict:
    if kind == "wants_to_cancel":
        return event(kind, to=reply.number)
    return event(kind, to=reply.number, word=keywords.normalize(reply.body))  # one of keywords.py's words


def confirmable(appointment: Appointment | None, message: Message) -> bool:
    """An answer to `message` may confirm `appointment`: still booked, still
    to come, still the patient the message went to."""
    return (
        appointment is not None
        and appointment.is_active
        and appointment.start > timezone.now()
        and appointment.patient_id == message.patient_id
    )


def confirm(reply: Reply, message: Message | None, status: str) -> str:
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
    said = event("confirmed_by_sms" if by_sms else "confirmed_by_call")
    appointment.save(update_fields=["status", "updated_at"], actor=PATIENT, said=said)
    return Reply.Outcome.CONFIRMED


def understand_waiting() -> int:
    """Reads every reply still waiting (normally none: each has its own task)."""
    waiting = list(Reply.objects.filter(outcome=Reply.Outcome.RECEIVED).values_list("pk", flat=True))
    for reply_id in waiting:
        understand(reply_id)
    return len(waiting)
