"""Online booking's rules (D20): the booking window and the one-time code."""

from datetime import UTC, datetime, timedelta

import pytest

from booking import rules

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
NOTICE, HORIZON = timedelta(hours=2), timedelta(days=60)


@pytest.mark.parametrize(
    "start, open_",
    [
        (NOW + timedelta(hours=2) - timedelta(seconds=1), False),  # closer than the notice
        (NOW + timedelta(hours=2), True),  # exactly at the notice
        (NOW + timedelta(days=60), True),  # exactly at the horizon
        (NOW + timedelta(days=60, seconds=1), False),  # beyond it
        (NOW - timedelta(days=1), False),  # past
    ],
)
def test_a_slot_is_bookable_online_from_the_notice_to_the_horizon(start, open_):
    assert rules.bookable(start, NOW, NOTICE, HORIZON) is open_


def test_a_code_is_six_digits_and_never_the_same_twice_in_a_row():
    codes = {rules.new_code() for _ in range(50)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 45


def check(typed="123456", tries=0, expires_at=NOW + timedelta(minutes=1), used=False, now=NOW):
    return rules.check(
        stored_hash=rules.code_hash("r1", "123456"),
        request_id="r1",
        typed=typed,
        tries=tries,
        expires_at=expires_at,
        used=used,
        now=now,
    )


@pytest.mark.parametrize(
    "case, outcome",
    [
        ({}, rules.RIGHT),
        ({"typed": " 123 456 "}, rules.RIGHT),  # as people type it
        ({"typed": "123457"}, rules.WRONG),
        ({"typed": "1234567"}, rules.WRONG),
        ({"typed": ""}, rules.WRONG),
        ({"tries": 4}, rules.RIGHT),  # the fifth try
        ({"tries": 5}, rules.TOO_MANY),  # none after five wrong ones, not even the right code
        ({"expires_at": NOW}, rules.EXPIRED),  # 10 minutes, not one second more
        ({"used": True}, rules.USED),
    ],
)
def test_a_code_opens_its_request_once_within_10_minutes_and_5_tries(case, outcome):
    assert check(**case) == outcome


def test_the_promised_numbers():
    assert (rules.CODE_LIFETIME, rules.CODE_TRIES, rules.CODE_DIGITS) == (timedelta(minutes=10), 5, 6)


def test_a_code_of_another_request_opens_nothing():
    assert rules.code_hash("r1", "123456") != rules.code_hash("r2", "123456")


def test_a_codes_digits_are_drawn_evenly_every_first_digit_turns_up():
    assert {rules.new_code()[0] for _ in range(300)} == set("0123456789")


def test_once_the_code_is_right_the_patient_may_still_choose_a_time_for_30_minutes():
    from booking.models import BookingRequest
    from booking.online import may_choose

    request = BookingRequest(verified_at=NOW)
    assert may_choose(request, NOW + timedelta(minutes=30) - timedelta(seconds=1))
    assert not may_choose(request, NOW + timedelta(minutes=30))
