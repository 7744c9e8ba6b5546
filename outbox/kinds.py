"""What the outbox knows of each kind of message: what the app that composes
it registers here when it starts (appointment messages and SMS answers by
confirmations, one-time codes and waiting list offers by booking).

The dispatcher claims a batch, asks each kind's composer to `load` what its
messages of the batch need (in a constant number of queries), then to
`prepare` each one: re-check it, say to whom it goes and what it says, or
settle it (outbox/states.py). It then sends what was prepared.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outbox.models import Message


@dataclass(frozen=True)
class Composer:
    # (message, what `load` read, now) → None once the message is filled in
    # (channel, to, subject, content, html, language; its attempt counted),
    # or the dispatcher's outcome of settling it instead.
    prepare: Callable[[Message, Any, datetime], str | None]
    # What a batch of these messages needs, read at once.
    load: Callable[[list[Message]], Any] = lambda messages: None
    # Whether a call of this kind asks the patient to press 1 (R28), and
    # whether, when pressed, it still confirms what the call was about.
    asks_for_key_1: bool = False
    key_1_confirms: Callable[[Message], bool] = lambda message: False


_composers: dict[str, Composer] = {}


def register(kinds: Iterable[str], composer: Composer) -> None:
    for kind in kinds:
        _composers[kind] = composer


def composed_by(kind: str) -> Composer | None:
    return _composers.get(kind)


def composer_for(kind: str) -> Composer:
    try:
        return _composers[kind]
    except KeyError:
        raise LookupError(f"no app composes messages of kind {kind!r}") from None
