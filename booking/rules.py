"""The rules of online booking (D20), without the database.

A patient books a free slot of a service open to online booking, from
`notice` before its start up to `horizon` ahead, and proves the email or
mobile given by typing the one-time code sent to it: six digits, valid 10
minutes, 5 tries, once.
"""

import secrets
from datetime import datetime, timedelta

from django.utils.crypto import constant_time_compare, salted_hmac

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
CODE_TRIES = 5
# Once the code is right, how long the patient may still pick another slot
# (when the one chosen was taken meanwhile) without a new code.
CHOOSE_WITHIN = timedelta(minutes=30)

RIGHT, WRONG, EXPIRED, USED, TOO_MANY = "right", "wrong", "expired", "used", "too_many"


def window(now: datetime, notice: timedelta, horizon: timedelta) -> tuple[datetime, datetime]:
    """The starts a patient may book online now: from `notice` ahead to `horizon` ahead."""
    return now + notice, now + horizon


def bookable(start: datetime, now: datetime, notice: timedelta, horizon: timedelta) -> bool:
    earliest, latest = window(now, notice, horizon)
    return earliest <= start <= latest


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(request_id, code: str) -> str:
    """Only this is stored: a leaked table gives no code."""
    return salted_hmac("hub.booking.code", f"{request_id}:{code}").hexdigest()


def typed_code(text: str) -> str:
    """What the patient typed, as digits: ' 123 456 ' is 123456."""
    return "".join(char for char in text if char.isdigit())[: CODE_DIGITS + 1]


def check(*, stored_hash: str, request_id, typed: str, tries: int, expires_at: datetime, used: bool, now) -> str:
    """Whether a typed code opens the request. `tries`: the wrong ones so far."""
    if used:
        return USED
    if tries >= CODE_TRIES:
        return TOO_MANY
    if now >= expires_at:
        return EXPIRED
    if constant_time_compare(code_hash(request_id, typed_code(typed)), stored_hash):
        return RIGHT
    return WRONG
