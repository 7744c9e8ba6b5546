"""The dispatcher: sends every message that is due, at most once (D15).

One pass claims due rows one at a time (`SKIP LOCKED` on PostgreSQL, and a
conditional UPDATE everywhere), committing `pending → sending` before any
provider is called; then re-checks the appointment (D4), resolves the
contact (D9), renders the content (R20) and calls the channel. The channel's
answer is one of the outcomes of outbox/outcomes.py:

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

from history.events import Reason, event
from outbox import states
from outbox.channels import channel_for
from outbox.contacts import contact_for
from outbox.kinds import composed_by, composer_for
from outbox.models import Message, OptOut
from outbox.outcomes import BAD_ADDRESS, REFUSED, TransportError
from outbox.outcomes import UNKNOWN as UNKNOWN_OUTCOME
from outbox.waker import wake_the_worker_after_commit
from schedules.actors import Actor

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
# message in flight and claims no more (outbox/worker.py).
stopping = threading.Event()

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
    with Senders(deadline) as senders:
        while (deadline is None or time.monotonic() < deadline) and not stopping.is_set():
            batch = states.claim_due(batch_size())
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


def expire_leases() -> int:
    """Rows stuck in `sending`: outcome unknown, never re-sent."""
    return sum(states.outcome_unknown(message, Reason.WORKER_STOPPED) for message in states.stuck_in_sending(LEASE))


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
        loaded = _load(batch)
        seen = set()
        for message in batch:
            if message.appointment_ref is not None and message.appointment_ref in seen:
                # One message per appointment and wave, in order: a
                # confirmation and its reminder due together arrive in turn.
                outcomes.append(_release(message))
                continue
            outcome = _prepare_one(message, loaded, now)
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
    """A claimed message whose provider call never started: pending again, as it was."""
    states.release(message, attempt_counted)
    return POSTPONED


def _load(batch: list[Message]) -> dict:
    """What the composers need for their messages of the batch, read at once
    (composers that share a way of reading share one read). A kind no app
    composes reads nothing: its message fails alone (_prepare_one)."""
    by_load = {}
    for message in batch:
        composer = composed_by(message.kind)
        if composer is not None:
            by_load.setdefault(composer.load, []).append(message)
    return {load: load(messages) for load, messages in by_load.items()}


def _prepare_one(message: Message, loaded: dict, now) -> str | None:
    """The message's composer re-checks it and fills it in, or settles it."""
    try:
        composer = composer_for(message.kind)
        return composer.prepare(message, loaded[composer.load], now)
    except Exception as error:
        # A fault of the Hub's own (a template, a bad record): this message
        # fails, with why, and the rest of the batch goes on. Nothing left.
        log.exception("preparing message %s failed", message.public_id)
        return mark_failed(message, Reason.UNEXPECTED, type(error).__name__)


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
    states.retry_later(message, now + backoff(message.attempts), error.reason)
    return RETRYING


def record_sent(message: Message, now, provider_id: str) -> None:
    states.record_sent(message, now, provider_id)


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
        states.note(message, event("no_fallback", message=message.kind))
        return
    message.again(fallback_of=message, skip_contacts=skip)
    states.note(message, event("fallback", message=message.kind, to=message.to, reason=reason, detail=detail))
    wake_the_worker_after_commit()


def withdrawn(message: Message, reason: str) -> str:
    """D4: the message no longer tells the truth, or cannot be placed."""
    states.withdraw(message, reason)
    return WITHDRAWN


def postponed(message: Message, due_at) -> str:
    """A call waits for the call window (R14)."""
    states.postpone(message, due_at)
    return POSTPONED


def mark_failed(message: Message, reason: str, detail: str = "") -> str:
    states.fail(message, reason, detail)
    return FAILED


def mark_unknown(message: Message, reason: str, detail: str = "") -> str | None:
    """D15: the provider may have the message. Never sent again automatically."""
    return UNKNOWN if states.outcome_unknown(message, reason, detail) else None


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
            states.note(message, event("sent_again", message=message.kind, state=message.state), Actor("staff", user))
    except IntegrityError:
        return None  # already sent again
    wake_the_worker_after_commit()
    return again
