"""Who is changing an appointment right now: a staff member, the patient,
or the Hub itself. The status history (R29) records it.

Set by the admin's middleware for staff, by the patient pages and webhooks
for patients, and by the dispatcher for the Hub; a change made elsewhere
(shell, import) is recorded as staff with no named user.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    kind: str  # StatusChange.Actor value
    user: AbstractBaseUser | None = None


STAFF = Actor("staff")
PATIENT = Actor("patient")
HUB = Actor("hub")

_current: ContextVar[Actor] = ContextVar("hub_actor", default=STAFF)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


class StaffActorMiddleware:
    """Names the logged-in staff member as the actor of the request's changes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            with acting_as(Actor("staff", user)):
                return self.get_response(request)
        return self.get_response(request)
