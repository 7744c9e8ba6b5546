"""The Hub's rules: whether, when and to whom (SPEC sections 1–6 and 10).

Pure functions. Given what the Hub knows of an appointment before and after
a change (`Facts`), and the instant of the change, `plan()` says which
messages to send and when, and whether pending ones must be withdrawn.
`recheck()` says, when a message is due, whether it still tells the truth
(D4). `call_time()` places a phone call in its window (R14). Nothing here
touches the database: `confirmations/planning.py` feeds these functions and
writes their answers.

Instants are compared as elapsed time: "48 h before" is 48 real hours,
across daylight-saving changes, not the same wall-clock time two days
earlier.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from history.events import Reason, event
from outbox.contacts import VOICE

CONFIRMATION, REMINDER, MODIFICATION, CANCELLATION = "confirmation", "reminder", "modification", "cancellation"

REMINDER_LEAD = timedelta(hours=48)  # R9
NO_REMINDER_UNDER = timedelta(hours=4)  # R11
CALLS_FROM, CALLS_UNTIL = time(9, 0), time(20, 0)  # R14

# R2: the professional kinds the Hub speaks for.
HUB_KINDS = frozenset({"gp", "np", "nurse", "resident", "extern"})
# R5: the service category for which the Hub sends nothing (administrative time, say).
SILENT_CATEGORY = "none"

# D1: the reasons the Hub sends nothing, in the order they are checked.
CLINIC_NOT_CONNECTED = "clinic_not_connected"
PROFESSIONAL_NOT_COVERED = "professional_not_covered"
OUTSIDE_SLOT = "outside_slot"
EXTERNAL_PORTAL = "external_portal"
SERVICE_SENDS_NOTHING = "service_sends_nothing"


@dataclass(frozen=True)
class Facts:
    """What the Hub knows of an appointment at one instant."""

    start: datetime
    patient: object  # any identity: a primary key in practice
    professional: object
    clinic_connected: bool
    professional_kind: str
    in_slot: bool
    source: str
    service_category: str
    cancelled: bool = False
    time_zone: str = "America/Toronto"
    # The channel this patient would be reached on now (R19), or None when
    # there is no usable contact. Only the timing rules for phone calls
    # depend on it (R12, R14, D3); the message itself re-resolves it when
    # sent (D9).
    channel: str | None = None
    # For the state before a change: the scope decision stored at the last
    # save ("" when handled). The clinic, professional or service may have
    # been reconfigured since; what the patient was told followed the
    # decision then, not the configuration now.
    stored_scope: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("Facts.start must be an aware datetime")
        object.__setattr__(self, "start", self.start.astimezone(UTC))


@dataclass(frozen=True)
class Send:
    kind: str
    due_at: datetime
    # D13: the cancellation of a changed patient goes to the former patient.
    to_former_patient: bool = False


@dataclass
class Plan:
    send: list[Send] = field(default_factory=list)
    # Why pending messages of the appointment are withdrawn (a Reason);
    # None keeps them.
    withdraw: str | None = None
    # D5: a modification resets a "Confirmed …" status to "Booked".
    reset_confirmation: bool = False
    # A new booking of an existing appointment (D12 return, D13 new
    # patient, restored): whatever the status said was about another
    # booking, so it goes back to "Booked".
    reset_status: bool = False
    # D12: the scope_reason() of an appointment that just left the Hub.
    left_hub: str | None = None
    # What staff should read in the history about this change (events).
    notes: list[dict] = field(default_factory=list)


def scope_reason(facts: Facts) -> str | None:
    """D1: why the Hub does not handle this appointment, or None if it does."""
    if not facts.clinic_connected:
        return CLINIC_NOT_CONNECTED  # R1
    if facts.professional_kind not in HUB_KINDS:
        return PROFESSIONAL_NOT_COVERED  # R2
    if not facts.in_slot:
        return OUTSIDE_SLOT  # R3
    if facts.source == "external":
        return EXTERNAL_PORTAL  # R4
    if facts.service_category == SILENT_CATEGORY:
        return SERVICE_SENDS_NOTHING  # R5
    return None


def handled(facts: Facts | None) -> bool:
    if facts is None or facts.cancelled:
        return False
    reason = facts.stored_scope if facts.stored_scope is not None else scope_reason(facts)
    return not reason


def call_time(due: datetime, time_zone: str) -> datetime:
    """R14: the first instant at or after `due` inside 09:00–20:00 clinic time."""
    zone = ZoneInfo(time_zone)
    local = due.astimezone(zone)
    if CALLS_FROM <= local.time() < CALLS_UNTIL:
        return due.astimezone(UTC)
    day = local.date() if local.time() < CALLS_FROM else local.date() + timedelta(days=1)
    return datetime.combine(day, CALLS_FROM, tzinfo=zone).astimezone(UTC)


def plan(before: Facts | None, after: Facts | None, now: datetime) -> Plan:
    """What a change of an appointment sends (`before` None: a creation;
    `after` None: a deletion)."""
    now = now.astimezone(UTC)
    was_handled, is_handled = handled(before), handled(after)

    # R18, D7, D8: cancelled or deleted.
    if after is None or (after.cancelled and not (before and before.cancelled)):
        gone = Reason.DELETED if after is None else Reason.CANCELLED
        if not was_handled:
            return Plan(withdraw=gone)
        result = Plan(withdraw=gone)
        _add(result, [Send(CANCELLATION, now)], before, now)
        return result

    if not is_handled:
        if was_handled:
            # D12: it leaves the Hub; the appointment still exists, so no
            # cancellation is sent, and the patient will hear nothing more.
            return Plan(withdraw=Reason.LEFT_HUB, left_hub=scope_reason(after))
        return Plan()

    if not was_handled:
        if before is not None and not before.cancelled and _only_service_changed(before, after):
            # R16: a service change is not communicated, even one that
            # brings the appointment (back) into the Hub's scope; only the
            # reminder, still due, is planned again.
            result = _booking(None, after, now)
            result.notes.insert(0, event("service_changed"))  # R16
            return result
        # A creation, a return into a slot (D12), or an appointment restored
        # after a cancellation: a new booking.
        result = _booking(CONFIRMATION, after, now)
        result.reset_status = before is not None
        return result

    if after.patient != before.patient:
        # D13: the former patient hears of a cancellation, the new one of a booking.
        result = Plan(withdraw=Reason.PATIENT_CHANGED, reset_status=True)
        _add(result, [Send(CANCELLATION, now, to_former_patient=True)], before, now)
        booking = _booking(CONFIRMATION, after, now)
        result.send += booking.send
        result.notes += booking.notes
        return result

    if after.start != before.start or after.professional != before.professional:
        # R15, D5: a modification; the reminder is re-planned from the new time.
        result = _booking(MODIFICATION, after, now)
        result.withdraw = Reason.MODIFIED
        result.reset_confirmation = True
        return result

    # R16 (service), internal notes, end time, status: nothing to tell.
    return Plan()


def _only_service_changed(before: Facts, after: Facts) -> bool:
    return replace(before, service_category=after.service_category, stored_scope=after.stored_scope) == after


def _booking(first_kind: str | None, facts: Facts, now: datetime) -> Plan:
    """R9–R13, D3: the confirmation (or modification) and the reminder.
    `first_kind` None plans the reminder alone."""
    result = Plan()
    lead = facts.start - now
    if lead <= timedelta(0):
        result.notes.append(event("past"))  # R13
        return result
    sends = []
    if first_kind is None:
        pass
    elif (
        facts.channel == VOICE
        and lead < REMINDER_LEAD
        and not (first_kind == MODIFICATION and lead < NO_REMINDER_UNDER)
    ):
        result.notes.append(event("call_only"))  # R12, D3
    else:
        # R10: even minutes away. R15: a modification always tells the
        # patient; by phone under 4 h no reminder call follows, so the
        # modification call is placed.
        sends.append(Send(first_kind, now))
    if lead < NO_REMINDER_UNDER:
        result.notes.append(event("no_reminder"))  # R11
    else:
        sends.append(Send(REMINDER, max(now, facts.start - REMINDER_LEAD)))  # R9, R11
    _add(result, sends, facts, now)
    return result


def _add(result: Plan, sends: list[Send], facts: Facts, now: datetime) -> None:
    """Adds the sends that can happen; a past appointment or a call that
    cannot be placed before the start is dropped with a note (R13, R14, D3)."""
    if facts.start <= now:
        result.notes.append(event("past"))  # R13
        return
    for send in sends:
        if facts.channel == VOICE:
            placed = call_time(send.due_at, facts.time_zone)
            if placed >= facts.start:
                result.notes.append(event("call_dropped", message=send.kind))  # D3
                continue
            send = replace(send, due_at=placed)
        result.send.append(send)


@dataclass(frozen=True)
class Due:
    """A message that has come due, as planned."""

    kind: str
    planned_start: datetime
    patient: object


def recheck(message: Due, current: Facts | None, now: datetime) -> str | None:
    """D4: why a due message must not be sent any more (a Reason), or None to send it."""
    now = now.astimezone(UTC)
    if message.planned_start <= now:
        return Reason.PAST
    if message.kind == CANCELLATION:
        if current is not None and not current.cancelled and current.patient == message.patient:
            if current.start == message.planned_start:
                return Reason.NO_LONGER_CANCELLED
        return None
    if current is None:
        return Reason.DELETED
    if current.cancelled:
        return Reason.CANCELLED
    if current.patient != message.patient:
        return Reason.PATIENT_CHANGED
    if current.start != message.planned_start:
        return Reason.MOVED
    if scope_reason(current) is not None:
        return Reason.LEFT_HUB
    return None


def cancel_online_until(start: datetime, delay: timedelta | None) -> datetime | None:
    """R8: the last instant a patient may still cancel online; None for a
    service that allows no online cancellation."""
    return None if delay is None else start - delay


def may_cancel_online(until: datetime | None, now: datetime) -> bool:
    """R25: up to `until` included. The patient pages act on it, and an email
    written later carries no Cancel link, which would only open a refusal."""
    return until is not None and now <= until
