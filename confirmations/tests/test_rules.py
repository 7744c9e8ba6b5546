"""The decision table of the Hub's rules, without a database.

Each row names the SPEC rule it proves. Times are in America/Toronto; the
appointment starts Thursday 2026-12-10 at 14:30 unless a row says otherwise.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from confirmations.rules import (
    CANCELLATION,
    CONFIRMATION,
    MODIFICATION,
    REMINDER,
    Due,
    Facts,
    call_time,
    cancel_online_until,
    may_cancel_online,
    plan,
    recheck,
    scope_reason,
)

TORONTO = ZoneInfo("America/Toronto")
START = datetime(2026, 12, 10, 14, 30, tzinfo=TORONTO)
H = timedelta(hours=1)

BASE = Facts(
    start=START,
    patient=1,
    professional=10,
    clinic_connected=True,
    professional_kind="gp",
    in_slot=True,
    source="staff",
    service_category="in_person",
    channel="email",
)
PHONE = replace(BASE, channel="voice")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TORONTO)


def sends(result) -> list[tuple[str, datetime]]:
    return [(send.kind, send.due_at.astimezone(TORONTO)) for send in result.send]


# --- Scope (R1–R5, D1) -------------------------------------------------------

SCOPE = [
    ("R1 clinic not connected", {"clinic_connected": False}, "clinic_not_connected"),
    ("R2 specialist", {"professional_kind": "specialist"}, "professional_not_covered"),
    ("R2 other professional", {"professional_kind": "other"}, "professional_not_covered"),
    ("R2 general practitioner", {"professional_kind": "gp"}, None),
    ("R2 nurse practitioner (IPS)", {"professional_kind": "np"}, None),
    ("R2 nurse", {"professional_kind": "nurse"}, None),
    ("R2 resident", {"professional_kind": "resident"}, None),
    ("R2 extern", {"professional_kind": "extern"}, None),
    ("R3 outside any slot", {"in_slot": False}, "outside_slot"),
    ("R4 booked by staff", {"source": "staff"}, None),
    ("R4 booked online (Sofy)", {"source": "online"}, None),
    ("R4 booked online (Sofy RV Hub)", {"source": "online_hub"}, None),
    ("R4 external portal (RVSQ)", {"source": "external"}, "external_portal"),
    ("R5 service category none", {"service_category": "none"}, "service_sends_nothing"),
    ("R5 phone service", {"service_category": "phone"}, None),
    ("R5 virtual service", {"service_category": "virtual"}, None),
    ("R5 home service", {"service_category": "home"}, None),
    ("D1 first reason wins", {"clinic_connected": False, "in_slot": False}, "clinic_not_connected"),
]


@pytest.mark.parametrize(("rule", "change", "reason"), SCOPE, ids=[row[0] for row in SCOPE])
def test_scope(rule, change, reason):
    facts = replace(BASE, **change)
    assert scope_reason(facts) == reason
    booked = plan(None, facts, START - 10 * 24 * H)
    assert bool(booked.send) is (reason is None)


# --- Creation timing (R9–R13, D3) ------------------------------------------

BOOKING = [
    # rule, channel, hours ahead, expected (kind, due) as local times
    (
        "R9 10 days: confirmation now, reminder 48 h before",
        BASE,
        240,
        [(CONFIRMATION, START - 240 * H), (REMINDER, local(2026, 12, 8, 14, 30))],
    ),
    ("R9 49 h: reminder in one hour", BASE, 49, [(CONFIRMATION, START - 49 * H), (REMINDER, START - 48 * H)]),
    (
        "R11 47 h: confirmation and reminder right away",
        BASE,
        47,
        [(CONFIRMATION, START - 47 * H), (REMINDER, START - 47 * H)],
    ),
    (
        "R11 4 h 01: reminder still sent",
        BASE,
        4 + 1 / 60,
        [(CONFIRMATION, START - (4 + 1 / 60) * H), (REMINDER, START - (4 + 1 / 60) * H)],
    ),
    ("R11 3 h 59: no reminder", BASE, 4 - 1 / 60, [(CONFIRMATION, START - (4 - 1 / 60) * H)]),
    ("R10 1 h: email confirmation even minutes away", BASE, 1, [(CONFIRMATION, START - H)]),
    ("R10 SMS 1 h", replace(BASE, channel="sms"), 1, [(CONFIRMATION, START - H)]),
    ("R13 in the past: nothing", BASE, -1, []),
    ("R13 starting now: nothing", BASE, 0, []),
    (
        "R12 phone 10 days: confirmation call and reminder call",
        PHONE,
        240,
        [(CONFIRMATION, START - 240 * H), (REMINDER, local(2026, 12, 8, 14, 30))],
    ),
    ("R12 phone 49 h: confirmation call", PHONE, 49, [(CONFIRMATION, START - 49 * H), (REMINDER, START - 48 * H)]),
    ("R12 D3 phone 47 h: no confirmation, reminder call right away", PHONE, 47, [(REMINDER, START - 47 * H)]),
    ("R12 D3 phone 4 h 01: reminder call", PHONE, 4 + 1 / 60, [(REMINDER, START - (4 + 1 / 60) * H)]),
    ("R11 D3 phone 3 h 59: nothing", PHONE, 4 - 1 / 60, []),
    ("R12 phone 1 h: nothing", PHONE, 1, []),
    (
        "R19 no usable contact: planned, fails when sent",
        replace(BASE, channel=None),
        240,
        [(CONFIRMATION, START - 240 * H), (REMINDER, local(2026, 12, 8, 14, 30))],
    ),
]


@pytest.mark.parametrize(("rule", "facts", "hours", "expected"), BOOKING, ids=[row[0] for row in BOOKING])
def test_booking(rule, facts, hours, expected):
    assert sends(plan(None, facts, START - hours * H)) == expected


# --- Phone window (R14, D3) --------------------------------------------------

WINDOW = [
    ("R14 08:59 waits for 09:00", local(2026, 12, 1, 8, 59), local(2026, 12, 1, 9, 0)),
    ("R14 09:00 calls at once", local(2026, 12, 1, 9, 0), local(2026, 12, 1, 9, 0)),
    ("R14 19:59 calls at once", local(2026, 12, 1, 19, 59), local(2026, 12, 1, 19, 59)),
    ("R14 20:00 waits for the next day", local(2026, 12, 1, 20, 0), local(2026, 12, 2, 9, 0)),
    ("R14 midnight waits for 09:00", local(2026, 12, 2, 0, 0), local(2026, 12, 2, 9, 0)),
]


@pytest.mark.parametrize(("rule", "due", "placed"), WINDOW, ids=[row[0] for row in WINDOW])
def test_call_window(rule, due, placed):
    assert call_time(due, "America/Toronto") == placed


@pytest.mark.parametrize(
    ("rule", "booked_at", "expected"),
    [
        (
            "R14 booked at 08:59, confirmation call at 09:00",
            local(2026, 12, 1, 8, 59),
            [(CONFIRMATION, local(2026, 12, 1, 9, 0)), (REMINDER, local(2026, 12, 8, 14, 30))],
        ),
        (
            "R14 booked at 20:00, confirmation call next morning",
            local(2026, 12, 1, 20, 0),
            [(CONFIRMATION, local(2026, 12, 2, 9, 0)), (REMINDER, local(2026, 12, 8, 14, 30))],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_calls_wait_for_their_window(rule, booked_at, expected):
    assert sends(plan(None, PHONE, booked_at)) == expected


def test_d3_a_call_whose_window_opens_after_the_start_is_dropped_and_said():
    early = replace(PHONE, start=local(2026, 12, 2, 8, 30))
    result = plan(None, early, local(2026, 12, 1, 21, 0))
    assert result.send == []
    # Under 48 h by phone only the reminder call is placed (R12), and its window opens after the start.
    assert result.notes == [{"kind": "call_only"}, {"kind": "call_dropped", "message": REMINDER}]


def test_d3_a_reminder_due_at_night_is_called_in_the_morning_before_an_afternoon_start():
    afternoon = replace(PHONE, start=local(2026, 12, 3, 15, 0))  # 48 h before: 15:00, inside
    night = replace(PHONE, start=local(2026, 12, 3, 22, 0))  # 48 h before: 22:00, outside
    assert sends(plan(None, afternoon, local(2026, 11, 20, 10)))[1] == (REMINDER, local(2026, 12, 1, 15, 0))
    assert sends(plan(None, night, local(2026, 11, 20, 10)))[1] == (REMINDER, local(2026, 12, 2, 9, 0))


# --- 48 hours are elapsed hours (DST) ----------------------------------------


@pytest.mark.parametrize(
    ("rule", "start", "reminder_at"),
    [
        # Clocks fall back on Sunday 2026-11-01 at 02:00: 48 h before Monday
        # 10:00 EST is Saturday 11:00 EDT, not 10:00.
        ("R9 48 h across the fall change", local(2026, 11, 2, 10, 0), local(2026, 10, 31, 11, 0)),
        # Clocks spring forward on Sunday 2027-03-14 at 02:00: 48 h before
        # Monday 10:00 EDT is Saturday 09:00 EST.
        ("R9 48 h across the spring change", local(2027, 3, 15, 10, 0), local(2027, 3, 13, 9, 0)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_48_hours_are_elapsed(rule, start, reminder_at):
    result = plan(None, replace(BASE, start=start), start - 10 * 24 * H)
    reminder = result.send[1]
    assert reminder.due_at == reminder_at
    assert start - reminder.due_at == timedelta(hours=48)


# --- Changes (R15–R18, D5, D7, D8, D12, D13) -------------------------------

NOW = START - 240 * H  # ten days ahead


def test_r15_d5_moving_the_appointment_sends_a_modification_and_replans_the_reminder():
    moved = replace(BASE, start=START + 24 * H)
    result = plan(BASE, moved, NOW)
    assert sends(result) == [(MODIFICATION, NOW), (REMINDER, START - 24 * H)]
    assert result.withdraw and result.reset_confirmation


def test_d5_changing_the_professional_is_a_modification():
    result = plan(BASE, replace(BASE, professional=11), NOW)
    assert [send.kind for send in result.send] == [MODIFICATION, REMINDER]
    assert result.withdraw and result.reset_confirmation


def test_d5_a_modification_under_48_hours_by_phone_only_places_the_reminder_call():
    moved = replace(PHONE, start=NOW + 30 * H)
    assert sends(plan(PHONE, moved, NOW)) == [(REMINDER, NOW)]


def test_r15_a_modification_under_4_hours_by_phone_still_calls():
    moved = replace(PHONE, start=NOW + 3 * H)
    assert sends(plan(PHONE, moved, NOW)) == [(MODIFICATION, NOW)]


def test_d5_moving_into_the_past_withdraws_and_sends_nothing():
    result = plan(BASE, replace(BASE, start=NOW - H), NOW)
    assert result.send == [] and result.withdraw


def test_r16_changing_the_service_sends_nothing_and_keeps_the_reminder():
    result = plan(BASE, replace(BASE, service_category="phone"), NOW)
    assert (result.send, result.withdraw, result.reset_confirmation) == ([], None, False)


def test_r16_a_service_that_sends_nothing_takes_the_appointment_out_of_the_hub():
    result = plan(BASE, replace(BASE, service_category="none"), NOW)
    assert result.send == [] and result.withdraw and result.left_hub == "service_sends_nothing"


def test_r16_a_service_change_into_the_hub_is_not_announced_but_the_reminder_is_planned():
    result = plan(replace(BASE, service_category="none"), BASE, NOW)
    assert sends(result) == [(REMINDER, local(2026, 12, 8, 14, 30))]


def test_internal_edits_send_nothing():
    assert plan(BASE, BASE, NOW).send == []


def test_r18_d8_cancelling_sends_a_cancellation_and_withdraws_the_reminder():
    result = plan(BASE, replace(BASE, cancelled=True), NOW)
    assert sends(result) == [(CANCELLATION, NOW)]
    assert result.withdraw


def test_r18_d7_deleting_sends_a_cancellation():
    result = plan(BASE, None, NOW)
    assert sends(result) == [(CANCELLATION, NOW)] and result.withdraw


def test_r18_cancelling_a_past_appointment_sends_nothing():
    assert plan(BASE, replace(BASE, cancelled=True), START + H).send == []


def test_r18_cancelling_an_appointment_outside_the_hub_sends_nothing():
    specialist = replace(BASE, professional_kind="specialist")
    assert plan(specialist, replace(specialist, cancelled=True), NOW).send == []


def test_r14_a_cancellation_call_waits_for_the_window():
    result = plan(PHONE, replace(PHONE, cancelled=True), local(2026, 12, 1, 21, 0))
    assert sends(result) == [(CANCELLATION, local(2026, 12, 2, 9, 0))]


def test_editing_a_cancelled_appointment_sends_nothing():
    cancelled = replace(BASE, cancelled=True)
    assert plan(cancelled, replace(cancelled, start=START + H), NOW).send == []


def test_restoring_a_cancelled_appointment_is_a_new_booking():
    assert [send.kind for send in plan(replace(BASE, cancelled=True), BASE, NOW).send] == [CONFIRMATION, REMINDER]


def test_d12_moving_out_of_a_slot_withdraws_without_cancelling():
    result = plan(BASE, replace(BASE, in_slot=False, start=START + H), NOW)
    assert result.send == [] and result.withdraw and result.left_hub == "outside_slot"


def test_d12_moving_back_into_a_slot_is_a_new_booking():
    outside = replace(BASE, in_slot=False)
    result = plan(outside, BASE, NOW)
    assert [send.kind for send in result.send] == [CONFIRMATION, REMINDER]
    assert result.reset_status


def test_d13_changing_the_patient_cancels_for_the_former_and_confirms_for_the_new():
    result = plan(BASE, replace(BASE, patient=2), NOW)
    assert [(send.kind, send.to_former_patient) for send in result.send] == [
        (CANCELLATION, True),
        (CONFIRMATION, False),
        (REMINDER, False),
    ]
    assert result.withdraw and result.reset_status


def test_d13_the_former_patient_is_called_in_the_window_of_their_own_channel():
    result = plan(PHONE, replace(BASE, patient=2), local(2026, 12, 1, 21, 0))
    assert sends(result)[0] == (CANCELLATION, local(2026, 12, 2, 9, 0))


# --- Re-check when due (D4) ------------------------------------------------

REMINDER_DUE = Due(REMINDER, planned_start=START.astimezone(UTC), patient=1)
CANCELLATION_DUE = Due(CANCELLATION, planned_start=START.astimezone(UTC), patient=1)
RECHECK = [
    ("D4 unchanged: send", REMINDER_DUE, BASE, None),
    ("D4 deleted", REMINDER_DUE, None, "deleted"),
    ("D4 cancelled", REMINDER_DUE, replace(BASE, cancelled=True), "cancelled"),
    ("D4 moved", REMINDER_DUE, replace(BASE, start=START + H), "moved"),
    ("D4 patient changed", REMINDER_DUE, replace(BASE, patient=2), "patient_changed"),
    ("D4 out of the Hub", REMINDER_DUE, replace(BASE, in_slot=False), "left_hub"),
    ("D7 cancellation of a deleted appointment: send", CANCELLATION_DUE, None, None),
    ("D7 cancellation of a cancelled appointment: send", CANCELLATION_DUE, replace(BASE, cancelled=True), None),
    ("D13 cancellation for the former patient: send", CANCELLATION_DUE, replace(BASE, patient=2), None),
    ("D4 cancellation of a restored appointment", CANCELLATION_DUE, BASE, "no_longer_cancelled"),
]


@pytest.mark.parametrize(("rule", "due", "current", "reason"), RECHECK, ids=[row[0] for row in RECHECK])
def test_recheck(rule, due, current, reason):
    outcome = recheck(due, current, NOW)
    assert outcome == reason


@pytest.mark.parametrize("kind", [REMINDER, CANCELLATION])
def test_d4_nothing_goes_once_the_appointment_is_past(kind):
    due = Due(kind, planned_start=START.astimezone(UTC), patient=1)
    assert recheck(due, BASE if kind == REMINDER else None, START + timedelta(minutes=1)) == "past"


def test_d1_the_scope_before_a_change_is_the_decision_stored_then():
    was_outside = replace(BASE, stored_scope="clinic_not_connected")
    assert [send.kind for send in plan(was_outside, replace(BASE, start=START + H), NOW).send] == [
        CONFIRMATION,
        REMINDER,
    ]
    was_handled = replace(BASE, clinic_connected=False, stored_scope="")
    result = plan(was_handled, replace(BASE, clinic_connected=False), NOW)
    assert result.withdraw and result.left_hub == "clinic_not_connected"


# --- Exact boundaries, and the notes the rules write for staff ---------------


def kinds(notes: list[dict]) -> list[str]:
    return [note["kind"] for note in notes]


def test_r11_at_exactly_4_hours_the_reminder_still_goes():
    result = plan(None, BASE, START - 4 * H)
    assert sends(result) == [(CONFIRMATION, START - 4 * H), (REMINDER, START - 4 * H)]
    assert result.notes == []


def test_r11_it_sends_no_reminder_under_4_hours_and_says_so():
    result = plan(None, BASE, START - 4 * H + timedelta(seconds=1))
    assert sends(result) == [(CONFIRMATION, START - 4 * H + timedelta(seconds=1))]
    assert result.notes == [{"kind": "no_reminder"}]


def test_r12_at_exactly_48_hours_by_phone_the_confirmation_call_is_placed():
    at = local(2026, 12, 8, 14, 30)  # inside the calling hours
    result = plan(None, PHONE, at)
    assert sends(result) == [(CONFIRMATION, at), (REMINDER, at)]
    assert result.notes == []


def test_r12_under_48_hours_by_phone_only_the_reminder_call_and_a_note():
    at = local(2026, 12, 8, 14, 31)
    result = plan(None, PHONE, at)
    assert sends(result) == [(REMINDER, at)]
    assert result.notes == [{"kind": "call_only"}]


def test_r15_a_modification_by_phone_at_exactly_4_hours_places_only_the_reminder_call():
    moved = replace(PHONE, start=START + H)
    result = plan(PHONE, moved, START + H - 4 * H)
    assert [send.kind for send in result.send] == [REMINDER]
    assert kinds(result.notes) == ["call_only"]


def test_r15_a_modification_by_phone_under_4_hours_is_called_with_no_reminder():
    moved = replace(PHONE, start=START + H)
    result = plan(PHONE, moved, START + H - 4 * H + timedelta(seconds=1))
    assert [send.kind for send in result.send] == [MODIFICATION]
    assert kinds(result.notes) == ["no_reminder"]


def test_d3_a_9_00_appointment_booked_the_evening_before_is_never_called_and_both_calls_say_so():
    """The call window opens exactly at the start: too late for either call."""
    nine = replace(PHONE, start=local(2026, 12, 2, 9, 0))
    result = plan(None, nine, local(2026, 12, 1, 21, 0))
    assert result.send == []
    assert result.notes == [{"kind": "call_only"}, {"kind": "call_dropped", "message": REMINDER}]


def test_r13_booked_at_the_very_start_sends_nothing_and_says_it_is_past():
    result = plan(None, BASE, START)
    assert result.send == [] and result.notes == [{"kind": "past"}]


def test_d13_changing_the_patient_at_the_very_start_tells_nobody_and_says_it_is_past():
    result = plan(BASE, replace(BASE, patient=2), START)
    assert result.send == []
    assert kinds(result.notes) == ["past", "past"]  # the former patient's cancellation, the new booking


def test_r16_a_service_change_into_the_hub_under_4_hours_says_so_first():
    result = plan(replace(BASE, service_category="none"), BASE, START - 2 * H)
    assert result.send == []
    assert kinds(result.notes) == ["service_changed", "no_reminder"]


def test_plans_that_book_nothing_anew_leave_the_status_alone():
    assert not plan(BASE, BASE, NOW).reset_status  # an internal edit
    assert not plan(None, BASE, NOW).reset_status  # a first booking: Booked already
    assert not plan(BASE, replace(BASE, service_category="phone"), NOW).reset_status  # R16


def test_d4_at_the_very_start_a_message_is_past():
    assert recheck(REMINDER_DUE, BASE, START) == "past"


# --- Cancelling online (R8, R25) -----------------------------------------------


def test_r25_cancelling_online_works_until_the_delay_before_the_start_included():
    until = cancel_online_until(START, 24 * H)
    assert until == START - 24 * H
    assert may_cancel_online(until, until)
    assert not may_cancel_online(until, until + timedelta(microseconds=1))


def test_r8_a_service_without_a_delay_is_never_cancelled_online():
    assert cancel_online_until(START, None) is None
    assert not may_cancel_online(None, START - 100 * H)
