"""Every move of a message from one state to another, and no other module
moves one.

Each move is one conditional UPDATE on the state it expects, and says
whether it won: a worker, the lease sweep and a provider's report may reach
the same row at once, and only the first changes it (healthchecks moves a
check the same way). The moves a message can make, and no others:

    from       to         when
    pending    sending    a dispatcher pass claims it, once it is due
    pending    withdrawn  the appointment changed before it was due (D4)
    sending    pending    the call never started, the provider could not take it yet, or a call waits for its window
    sending    sent       the provider took it
    sending    withdrawn  re-checked when claimed, it no longer tells the truth (D4)
    sending    failed     nobody to send it to, a fault of the Hub's, or the provider refused it
    sending    unknown    the provider may have it (D15), or the lease ran out with its worker
    sending    delivered  the provider's report came before the send was recorded
    sent       delivered  the provider's report
    sent       failed     the provider's report: not delivered
    unknown    delivered  the provider's report settles a send that was not confirmed
    unknown    failed     the provider's report settles a send that was not confirmed
    delivered  failed     the provider's later report (a bounce after delivery)

`TRANSITIONS` is that table; outbox/tests/test_states.py checks it against
the docstring, the README's copy and every move this module's code makes.
What a move means for an appointment (its history, its status) is not the
outbox's business: it sends `message_noted` and `message_sent`
(outbox/signals.py), and the app that composed the message writes it down.
"""

from django.db import connection, transaction
from django.utils import timezone

from history.events import Reason, event
from outbox.models import Message
from outbox.signals import message_noted, message_sent
from schedules.actors import HUB, Actor

PENDING, SENDING, SENT, DELIVERED, FAILED, WITHDRAWN, UNKNOWN = (
    Message.State.PENDING,
    Message.State.SENDING,
    Message.State.SENT,
    Message.State.DELIVERED,
    Message.State.FAILED,
    Message.State.WITHDRAWN,
    Message.State.UNKNOWN,
)

TRANSITIONS = frozenset(
    {
        (PENDING, SENDING),
        (PENDING, WITHDRAWN),
        (SENDING, PENDING),
        (SENDING, SENT),
        (SENDING, WITHDRAWN),
        (SENDING, FAILED),
        (SENDING, UNKNOWN),
        (SENDING, DELIVERED),
        (SENT, DELIVERED),
        (SENT, FAILED),
        (UNKNOWN, DELIVERED),
        (UNKNOWN, FAILED),
        (DELIVERED, FAILED),
    }
)


def _move(message: Message, expected: str, to: str, **changes) -> bool:
    """`message` from `expected` to `to`, with `changes`, if it is still in
    `expected`; True if this call moved it. The row in memory follows."""
    if (expected, to) not in TRANSITIONS:
        raise ValueError(f"a message never moves from {expected} to {to}")
    moved = bool(Message.objects.filter(pk=message.pk, state=expected).update(state=to, **changes))
    if moved:
        message.state = to
        for name, value in changes.items():
            setattr(message, name, value)
    return moved


def note(message: Message, said: dict, actor: Actor = HUB) -> None:
    """Tells whoever composed the message what happened to it (its appointment's history)."""
    message_noted.send(sender=Message, message=message, said=said, actor=actor)


# pending → sending


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
            [SENDING, now, PENDING, PENDING, now, limit],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return []
    return list(Message.objects.select_related("patient", "clinic").filter(pk__in=claimed).order_by("due_at", "id"))


# pending → withdrawn


def withdraw_pending(appointment_ref, reason: str, keep_kinds=()) -> int:
    """D4: the pending messages of an appointment that changed no longer tell
    the truth; how many were withdrawn. Those of `keep_kinds` stay."""
    return (
        Message.objects.filter(appointment_ref=appointment_ref, state=PENDING)
        .exclude(kind__in=keep_kinds)
        .update(state=WITHDRAWN, reason=reason, error="")
    )


# sending → pending


def release(message: Message, attempt_counted: bool = False) -> bool:
    """A claimed message whose provider call never started: pending again,
    as it was (the attempt saved for it undone). A no-op once settled."""
    changes = {"attempts": message.attempts - 1} if attempt_counted else {}
    return _move(message, SENDING, PENDING, **changes)


def retry_later(message: Message, due_at, detail: str) -> bool:
    """The provider could not take it: tried again at `due_at`, while it is
    still true (the re-check withdraws it once it is not, D4)."""
    return _move(message, SENDING, PENDING, due_at=due_at, reason=Reason.TEMPORARY, error=detail)


def postpone(message: Message, due_at) -> bool:
    """A call waits for the call window (R14)."""
    return _move(message, SENDING, PENDING, due_at=due_at)


# sending → sent (or, when a report came first, only what it could not know)


def record_sent(message: Message, now, provider_id: str) -> bool:
    """The message left: the row says sent, and `message_sent` lets the
    appointment's status and note say when and where (R29), in one
    transaction. True if this call noted the send.

    Also called by a provider's report that arrives first (tracking.py):
    whichever comes second completes what is missing (the provider's id)
    without noting the send twice. Safe to run again after a commit whose
    acknowledgement was lost (dispatch.durably)."""
    with transaction.atomic():
        if not _move(message, SENDING, SENT, reason="", error="", sent_at=now, provider_id=provider_id):
            # Settled meanwhile (delivered, by the provider's report): states
            # never go backwards; only fill in what the report could not know.
            if provider_id:
                Message.objects.filter(pk=message.pk, provider_id="").update(provider_id=provider_id)
            if not Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=now):
                return False  # already noted
        message.sent_at, message.provider_id = now, provider_id or message.provider_id
        message_sent.send(sender=Message, message=message)
    return True


# sending → withdrawn, failed, unknown; and the provider's reports


def withdraw(message: Message, reason: str) -> bool:
    """D4: the message no longer tells the truth, or cannot be placed."""
    if _move(message, SENDING, WITHDRAWN, reason=reason, error=""):
        note(message, event("send_withdrawn", message=message.kind, reason=reason))
        return True
    return False


def fail(message: Message, reason: str, detail: str = "", expected: str = SENDING) -> bool:
    """Fails a claimed message (or, for a provider's report, one still in
    the state it was read in under lock: `expected`); the history says why
    (a Reason, and the provider's own words)."""
    if _move(message, expected, FAILED, reason=reason, error=detail):
        note(message, event("failed", message=message.kind, reason=reason, detail=detail))
        return True
    return False


def outcome_unknown(message: Message, reason: str, detail: str = "") -> bool:
    """D15: the provider may have the message. Never sent again automatically."""
    if _move(message, SENDING, UNKNOWN, reason=reason, error=detail):
        note(message, event("unknown", message=message.kind, reason=reason, detail=detail))
        return True
    return False  # settled meanwhile (a status callback, the lease sweep)


def stuck_in_sending(lease) -> list[Message]:
    """Rows a worker claimed longer than `lease` ago: presumed lost with it."""
    stale = Message.objects.filter(state=SENDING, claimed_at__lt=timezone.now() - lease)
    return list(stale.select_related("appointment__professional"))


def delivered(message: Message, expected: str) -> bool:
    """The provider's report: it reached the patient (`expected`: the state
    read under lock). From `sending` or `unknown` the send was not
    confirmed: the report settles it, and clears the reason it was in doubt."""
    unconfirmed = expected in (SENDING, UNKNOWN)
    return _move(message, expected, DELIVERED, **({"reason": "", "error": ""} if unconfirmed else {}))


def is_forward(message: Message, to: str) -> bool:
    """Whether a provider's report of `to` (delivered, failed) moves
    `message` on: only forward, along the table, so that the same report
    twice changes nothing and a late "delivered" never undoes "failed"."""
    return (message.state, to) in TRANSITIONS
