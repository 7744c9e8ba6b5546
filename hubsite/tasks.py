"""The daily retention task: each app forgets what it no longer needs
(outbox/retention.py, booking/online.py, hubsite/lockout.py). Here, at the
top of the house, because it asks every layer."""

from booking.online import forget_old_requests
from hubsite.lockout import forget_old_attempts
from outbox.retention import erase_old_contents as erase_old_messages


def erase_old_contents() -> str:
    messages, replies = erase_old_messages()
    requests = forget_old_requests()
    failures, logins = forget_old_attempts()
    return (
        f"contents erased: {messages} messages, {replies} replies, {requests} online booking requests, "
        f"{failures} failed and {logins} successful logins"
    )
