"""The dispatcher: sends every message that is due, at most once (D15).

One pass claims due rows one at a time (`SKIP LOCKED` on PostgreSQL, and a
conditional UPDATE everywhere), committing `pending → sending` before any
provider is called; then re-checks the appointment (D4), resolves the
contact (D9), renders the content (R20) and calls the channel. The channel's
answer is one of the outcomes of confirmations/outcomes.py:

- sent: recorded, and written again on a fresh connection if the database
  connection dropped meanwhile (the patient has it: it must say so);
- temporary: retried after 1, 2, 4, 8, then every 10 minutes, for as long
  as the message still tells the truth (the re-check withdraws it after);
- bad address: failed, and the same communication goes once to the
  patient's next contact (R19);
- refused: failed, with the provider's reason;
- unknown: the provider may have it; never sent again automatically, shown
  to staff, who may send it again by hand (`send_again`).

A row left in `sending` by a worker that died is never sent again either:
after a lease it becomes "outcome unknown".

The same pass runs from `manage.py send_due_messages`, from the per-minute
django-q2 schedule and from the fast path queued when a change commits.
"""

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from confirmations import answers, rules
from confirmations.channels import channel_for
from confirmations.contacts import ALL_CHANNELS, VOICE, contact_for, opted_out_numbers
from confirmations.content import render, snapshot_of
from confirmations.models import Message, OptOut
from confirmations.outcomes import BAD_ADDRESS, REFUSED, TransportError
from confirmations.outcomes import UNKNOWN as UNKNOWN_OUTCOME
from confirmations.planning import facts_of, wake_the_worker_after_commit
from history.events import Reason, event
from schedules.actors import HUB, Actor, acting_as
from schedules.models import Appointment, StatusChange

log = logging.getLogger(__name__)

# A claimed message not finished within this lease is presumed lost with its
# worker. Far longer than any provider call (HUB_PROVIDER_TIMEOUT).
LEASE = timedelta(minutes=15)
# Temporary failures wait 1, 2, 4, 8 minutes, then 10 minutes between
# attempts, for as long as the message is still true (D4, D15).
FIRST_WAITS, RETRY_CAP = (1, 2, 4, 8), timedelta(minutes=10)
# After a send, the outcome is written again on a fresh connection if the
# database connection dropped: this many tries, this far apart.
WRITE_TRIES, WRITE_PAUSE = 5, 1.0

# Set when the worker is asked to stop (SIGTERM): the pass finishes the
# message in flight and claims no more (confirmations/worker.py).
stopping = threading.Event()

SENT_STATUS = {
    "email": Appointment.Status.SENT_EMAIL,
    "sms": Appointment.Status.SENT_SMS,
    "voice": Appointment.Status.SENT_VOICE,
}

SENT, FAILED, WITHDRAWN, RETRYING, POSTPONED, UNKNOWN = (
    "sent",
    "failed",
    "withdrawn",
    "retrying",
    "postponed",
    "outcome unknown",
)


class Summary(Counter):
    def __str__(self) -> str:
        outcomes = (SENT, FAILED, WITHDRAWN, RETRYING, POSTPONED, UNKNOWN)
        return ", ".join(f"{self[outcome]} {outcome}" for outcome in outcomes)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th attempt: 1, 2, 4, 8 minutes, then 10."""
    return timedelta(minutes=FIRST_WAITS[attempts - 1]) if attempts <= len(FIRST_WAITS) else RETRY_CAP


def send_due_messages(budget: timedelta | None = None) -> Summary:
    """One pass: everything due now, then return what happened.

    Claims up to HUB_SEND_CONCURRENCY due messages at a time (one wave of
    provider calls), prepares them together (a constant number of queries
    per batch), sends them concurrently and records each outcome in its own
    short transaction as it comes back.

    With a `budget`, no provider call starts once it is spent (the rest of
    the batch goes back to pending): a django-q2 task is killed after its
    timeout, and a message killed mid-send would end as "outcome unknown".
    The next pass, a minute later, goes on."""
    summary = Summary()
    summary[UNKNOWN] += expire_leases()
    deadline = None if budget is None else time.monotonic() + budget.total_seconds()
    with acting_as(HUB), Senders(deadline) as senders:
        while (deadline is None or time.monotonic() < deadline) and not stopping.is_set():
            batch = claim_due(batch_size())
            if not batch:
                break
            for outcome in deliver(batch, senders):
                summary[outcome] += 1
    return summary


def batch_size() -> int:
    # One wave: as many as are sent at once, so that every message of a
    # batch is re-checked and called within moments of each other.
    concurrency = max(1, settings.HUB_SEND_CONCURRENCY)
    batch = settings.HUB_SEND_BATCH  # 0: the concurrency
    return min(batch, concurrency) if batch > 0 else concurrency


def claim_due(limit: int) -> list[Message]:
    """Moves up to `limit` of the oldest due messages to `sending` in one
    statement, commits, and returns them with their patient and clinic.

    The UPDATE is the claim: rows another worker holds are skipped (SKIP
    LOCKED on PostgreSQL; SQLite runs one writer at a time), and a row is
    only claimed if it is still pending. On PostgreSQL the ids are picked
    first, into an array: a LIMIT … SKIP LOCKED subquery joined to the
    UPDATE may be run again for each row and slide past its limit."""
    table = Message._meta.db_table
    now = timezone.now()
    if connection.vendor == "postgresql":
        picked = (
            f"id = ANY(ARRAY(SELECT id FROM {table} WHERE state = %s AND due_at <= %s "
            "ORDER BY due_at, id LIMIT %s FOR UPDATE SKIP LOCKED))"
        )
    else:
        picked = f"id IN (SELECT id FROM {table} WHERE state = %s AND due_at <= %s ORDER BY due_at, id LIMIT %s)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, claimed_at = %s WHERE state = %s AND {picked} RETURNING id",
            [Message.State.SENDING, now, Message.State.PENDING, Message.State.PENDING, now, limit],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return []
    return list(Message.objects.select_related("patient", "clinic").filter(pk__in=claimed).order_by("due_at", "id"))


def expire_leases() -> int:
    """Rows stuck in `sending`: outcome unknown, never re-sent."""
    expired = 0
    stale = Message.objects.filter(state=Message.State.SENDING, claimed_at__lt=timezone.now() - LEASE)
    for message in stale.select_related("appointment__professional"):
        if mark_unknown(message, Reason.WORKER_STOPPED) == UNKNOWN:
            expired += 1
    return expired


class NotSent(Exception):
    """This message's provider call never started (the worker is stopping,
    the pass's time is up, or the batch was abandoned)."""


class Senders:
    """The provider calls of a pass, HUB_SEND_CONCURRENCY at a time. The
    threads only call providers; every database write stays in the
    dispatcher's own thread and connection. A call starts only while the
    pass may still start one (its deadline, the stop flag, the batch not
    abandoned); `started` says which did."""

    def __init__(self, deadline: float | None):
        self.deadline = deadline
        # A call is put on record as started, or its batch is abandoned, one
        # at a time: none starts after the dispatcher read which had not.
        self.starting = threading.Lock()

    def __enter__(self) -> "Senders":
        # Each sender thread keeps its own channel objects for the pass:
        # provider clients are not shared between threads (Twilio's keeps
        # the last response on itself).
        self.local = threading.local()
        workers = max(1, settings.HUB_SEND_CONCURRENCY)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-send") if workers > 1 else None
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def channel(self, name: str):
        channels = self.local.__dict__.setdefault("channels", {})
        if name not in channels:
            channels[name] = channel_for(name)
        return channels[name]

    def send(self, messages: list[Message], started: set, abandoned: threading.Event):
        """Yields (message, provider id, or what the call raised, or NotSent) as each call ends."""

        def call(message: Message):
            # In a sender thread: the provider call only.
            if stopping.is_set() or (self.deadline and time.monotonic() >= self.deadline):
                return NotSent()
            with self.starting:
                if abandoned.is_set():
                    return NotSent()
                started.add(message.pk)
            try:
                return self.channel(message.channel).send(message)
            except Exception as error:  # returned, classified by the dispatcher's thread
                return error

        if self.pool is None:
            for message in messages:
                yield message, call(message)
            return
        futures = {self.pool.submit(call, message): message for message in messages}
        for future in as_completed(futures):
            yield futures[future], future.result()


PREPARED = ["channel", "to", "subject", "content", "html", "language", "attempts"]


def save_prepared(messages: list[Message]) -> None:
    """Writes what each message is about to send, in one pipelined round of
    UPDATEs (psycopg sends them together). Django's bulk_update would build
    one CASE per field and row: a tenth of a second per batch to compile."""
    columns = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in PREPARED)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Message._meta.db_table} SET {columns} WHERE id = %s",
            [[getattr(message, name) for name in PREPARED] + [message.pk] for message in messages],
        )


def deliver(batch: list[Message], senders: Senders) -> list[str]:
    """Re-checks, resolves, renders and sends a claimed batch; returns the
    outcome of each. Whatever goes wrong, no claimed message is left in
    `sending` unless its provider call started (that one is for the lease:
    the provider may have it)."""
    outcomes, ready, started, abandoned = [], [], set(), threading.Event()
    try:
        now = timezone.now()
        appointments = Appointment.objects.select_related("patient", "professional__clinic", "service").in_bulk(
            [message.appointment_id for message in batch if message.appointment_id]
        )
        patients = [message.patient for message in batch] + [a.patient for a in appointments.values()]
        opted_out = opted_out_numbers(patients)
        seen = set()
        for message in batch:
            if message.appointment_ref is not None and message.appointment_ref in seen:
                # One message per appointment and wave, in order: a
                # confirmation and its reminder due together arrive in turn.
                outcomes.append(_release(message))
                continue
            outcome = _prepare_one(message, appointments.get(message.appointment_id), opted_out, now)
            if outcome is None:
                seen.add(message.appointment_ref)
                ready.append(message)
            else:
                outcomes.append(outcome)
        if ready:
            # Saved before any provider is called: what was attempted is on
            # record even if the worker dies during the call.
            save_prepared(ready)
        for message, result in senders.send(ready, started, abandoned):
            outcomes.append(_outcome(message, result))
    finally:
        with senders.starting:
            abandoned.set()
            never_called = [message for message in batch if message.pk not in started]
        for message in never_called:
            # A prepared message counted its attempt (in memory, and in the
            # row once saved): released, it counts it no more.
            _release(message, attempt_counted=message in ready)
    return outcomes


def _release(message: Message, attempt_counted: bool = False) -> str:
    """A claimed message whose provider call never started: pending again,
    as it was (the attempt saved for it undone). A no-op once settled."""
    changes = {"state": Message.State.PENDING}
    if attempt_counted:
        changes["attempts"] = message.attempts - 1
    Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(**changes)
    return POSTPONED


def _prepare_one(message: Message, appointment: Appointment | None, opted_out: set[str], now) -> str | None:
    try:
        return _prepare(message, appointment, opted_out, now)
    except Exception as error:
        # A fault of the Hub's own (a template, a bad record): this message
        # fails, with why, and the rest of the batch goes on. Nothing left.
        log.exception("preparing message %s failed", message.public_id)
        return mark_failed(message, Reason.UNEXPECTED, type(error).__name__)


def note_channel_off(message: Message, channel: str) -> None:
    said = event("channel_off", message=message.kind, channel=channel)
    history = StatusChange.objects.filter(appointment_ref=message.appointment_ref).values_list("events", flat=True)
    if not any(said in events for events in history):  # a message tried again says it once
        _history(message, said)


def _prepare(message: Message, appointment: Appointment | None, opted_out: set[str], now) -> str | None:
    """D4, D9, R12, R14, R20 for one claimed message: fills in what it will
    say and to whom, or settles it (withdrawn, failed, postponed)."""
    if message.kind == Message.Kind.ANSWER:
        return _prepare_answer(message, appointment)
    if message.kind == Message.Kind.CODE:
        return _prepare_code(message)
    if message.kind == Message.Kind.OFFER:
        return _prepare_offer(message)
    current = facts_of(appointment, opted_out=opted_out) if appointment else None
    due = rules.Due(message.kind, message.planned_start, message.patient_id)
    reason = rules.recheck(due, current, now)
    if reason:
        return _withdraw(message, reason)

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
            return _withdraw(message, Reason.NO_CONFIRMATION_CALL)  # R12
        placed = rules.call_time(now, message.snapshot.get("time_zone", settings.TIME_ZONE))
        if placed >= message.planned_start:
            return _withdraw(message, Reason.NO_CALL_WINDOW)  # R14, D3
        if placed > now:
            _move(message, state=Message.State.PENDING, due_at=placed)
            return POSTPONED

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


def _prepare_answer(message: Message, appointment: Appointment | None) -> str | None:
    """An answer goes to the number that wrote, opted out or not (the
    carriers want STOP confirmed), in the language of the appointment it
    concerns (its booking language, R20), or else of the patient's record,
    as they are now."""
    if message.channel not in settings.HUB_CHANNELS or not settings.HUB_CHANNELS[message.channel]:
        return mark_failed(message, Reason.NO_CHANNEL)
    if appointment is not None:
        language = appointment.language
    else:
        language = message.patient.language if message.patient is not None else message.language
    message.language = language if language in answers.TEXTS else "fr"
    message.subject, message.html = "", ""
    message.content = answers.write(message.snapshot, message.language)
    message.attempts += 1
    return None


def _prepare_code(message: Message) -> str | None:
    """A one-time code goes to the address the patient typed, in the
    language of the booking page, while it is still valid."""
    from booking import codes

    if not settings.HUB_CHANNELS.get(message.channel):
        return mark_failed(message, Reason.NO_CHANNEL)
    if codes.expired(message.snapshot, timezone.now()):
        return _withdraw(message, Reason.CODE_EXPIRED)
    message.subject, message.content, message.html = codes.write(message.snapshot, message.language, message.channel)
    message.attempts += 1
    return None


def _prepare_offer(message: Message) -> str | None:
    """A waiting list offer goes while it is open, in the patient's language of the moment (R20)."""
    from booking import offers

    if not settings.HUB_CHANNELS.get(message.channel):
        return mark_failed(message, Reason.NO_CHANNEL)
    offer = offers.of(message)
    if offer is None or not offers.still_open(offer):
        return _withdraw(message, Reason.OFFER_CLOSED)
    # The page's language when the patient joined from the booking page (R20), else the record's now.
    chosen = offer.entry.language or (message.patient.language if message.patient is not None else None)
    message.language = chosen or message.language
    message.subject, message.content, message.html = offers.write(offer, message.language, message.channel)
    message.attempts += 1
    return None


def _outcome(message: Message, result) -> str:
    """Records what the provider call did (its own short transaction)."""
    now = timezone.now()
    if isinstance(result, NotSent):
        return _release(message, attempt_counted=True)  # never handed to a provider
    if isinstance(result, TransportError):
        return durably(partial(_settle_failure, message, result, now))
    if isinstance(result, Exception):
        # Not a classified provider error: we cannot know whether it went
        # out, and at most once means not trying again.
        log.error("channel %s raised while sending message %s", message.channel, message.public_id, exc_info=result)
        return durably(partial(mark_unknown, message, Reason.UNEXPECTED, type(result).__name__))
    durably(partial(record_sent, message, now, result))
    return SENT


def _settle_failure(message: Message, error: TransportError, now) -> str:
    if error.opted_out:
        OptOut.objects.get_or_create(number=message.to)
    if error.outcome == BAD_ADDRESS:
        with transaction.atomic():  # failed and its resend elsewhere, or neither
            outcome = mark_failed(message, Reason.BAD_ADDRESS, error.reason)
            resend_elsewhere(message, Reason.BAD_ADDRESS, error.reason)
        return outcome
    if error.outcome == REFUSED:
        return mark_failed(message, Reason.REFUSED, error.reason)
    if error.outcome == UNKNOWN_OUTCOME:
        return mark_unknown(message, Reason.NO_ANSWER, error.reason)
    # Temporary: the provider did not take it. Tried again while it is
    # still true; the re-check withdraws it once it is not (D4).
    due_at = now + backoff(message.attempts)
    _move(message, state=Message.State.PENDING, due_at=due_at, reason=Reason.TEMPORARY, error=error.reason)
    return RETRYING


def record_sent(message: Message, now, provider_id: str) -> None:
    """The message left: the row says sent, and the appointment's status and
    note say when and where (R29), in one transaction.

    Also called by a provider's report that arrives first (tracking.py):
    whichever comes second completes what is missing (the provider's id)
    without noting the send twice. Safe to run again after a commit whose
    acknowledgement was lost (`durably`)."""
    with transaction.atomic():
        moved = Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
            state=Message.State.SENT, reason="", error="", sent_at=now, provider_id=provider_id
        )
        if not moved:
            # Settled meanwhile (delivered, by the provider's report): states
            # never go backwards; only fill in what the report could not know.
            if provider_id:
                Message.objects.filter(pk=message.pk, provider_id="").update(provider_id=provider_id)
            if not Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=now):
                return  # already noted
        message.sent_at, message.provider_id = now, provider_id or message.provider_id
        _note_sent(message)


def durably(write: Callable[[], str | None]) -> str | None:
    """Runs `write` (an outcome to record after a provider call), again on a
    fresh connection if the database connection dropped: what the provider
    did cannot be undone, so its outcome must reach the row. After the last
    try the row stays in `sending`, and the lease makes it "outcome unknown"."""
    for attempt in itertools.count(1):
        try:
            return write()
        except (OperationalError, InterfaceError):
            if attempt == WRITE_TRIES or connection.in_atomic_block:
                raise
            log.warning("database connection lost while recording an outcome; retrying", exc_info=True)
            connection.close()
            time.sleep(WRITE_PAUSE)


def resend_elsewhere(message: Message, reason: str, detail: str = "") -> None:
    """After a permanent failure on a contact (hard bounce, invalid or
    opted-out number), the same communication goes once to the patient's
    next contact method; the history says so. With no next contact this Hub
    can use, nothing goes (D9), and the history says only that."""
    if message.kind in Message.SAID_ONCE:
        return  # an answer goes to the number that wrote, a code to the address typed, or nowhere
    if message.fallback_of_id is not None or Message.objects.filter(fallback_of=message).exists():
        return  # once
    skip = [*message.skip_contacts, message.to]
    if contact_for(message.patient, skip=skip) is None:
        with acting_as(HUB):
            _history(message, event("no_fallback", message=message.kind))
        return
    message.again(fallback_of=message, skip_contacts=skip)
    with acting_as(HUB):
        _history(message, event("fallback", message=message.kind, to=message.to, reason=reason, detail=detail))
    wake_the_worker_after_commit()


def _note_sent(message: Message) -> None:
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
        _history(message, history)
        return
    StatusChange.record(
        message.appointment_ref, message.clinic_id, status, [history], HUB, appointment_id=message.appointment_id
    )


def _move(message: Message, **changes) -> bool:
    """Moves a claimed message on, unless the lease sweep already settled it."""
    return bool(Message.objects.filter(pk=message.pk, state=message.state).update(**changes))


def _withdraw(message: Message, reason: str) -> str:
    """D4: the message no longer tells the truth, or cannot be placed."""
    if _move(message, state=Message.State.WITHDRAWN, reason=reason, error=""):
        _history(message, event("send_withdrawn", message=message.kind, reason=reason))
    return WITHDRAWN


def mark_failed(message: Message, reason: str, detail: str = "") -> str:
    """Fails a message still in the state it was read in; the history says
    why (a Reason, and the provider's own words)."""
    if _move(message, state=Message.State.FAILED, reason=reason, error=detail):
        _history(message, event("failed", message=message.kind, reason=reason, detail=detail))
    return FAILED


def mark_unknown(message: Message, reason: str, detail: str = "") -> str | None:
    """D15: the provider may have the message. Never sent again automatically."""
    if _move(message, state=Message.State.UNKNOWN, reason=reason, error=detail):
        _history(message, event("unknown", message=message.kind, reason=reason, detail=detail))
        return UNKNOWN
    return None  # settled meanwhile (a status callback, the lease sweep)


def send_again(message: Message, user) -> Message | None:
    """D15: staff send a failed or outcome-unknown message again, by hand.

    A new message, due now, re-checked when sent like any other (D4) and
    sent to the patient's contact as it is then (D9). Once per message: the
    one-to-one link makes a second request (a double click, two staff
    members) fail in the database. None when refused."""
    if message.state not in Message.SENDABLE_AGAIN:
        return None
    try:
        with transaction.atomic():
            again = message.again(resend_of=message, resent_by=user)
            note = event("sent_again", message=message.kind, state=message.state)
            _history(message, note, actor=Actor("staff", user))
    except IntegrityError:
        return None  # already sent again
    wake_the_worker_after_commit()
    return again


def _history(message: Message, note: dict, appointment: Appointment | None = None, actor: Actor = HUB) -> None:
    if message.appointment_ref is None:
        return  # an answer: no appointment's history to write in
    appointment = appointment or (
        Appointment.objects.filter(pk=message.appointment_id).first() if message.appointment_id else None
    )
    status = appointment.status if appointment else Appointment.Status.CANCELLED
    StatusChange.record(message.appointment_ref, message.clinic_id, status, [note], actor, appointment=appointment)
