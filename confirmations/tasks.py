"""django-q2 entry points: they take no objects, only run plain functions."""

from datetime import timedelta

from confirmations import dispatch


def send_due_messages() -> str:
    """The per-minute schedule and the fast path (planning.dispatch_soon).
    Also reads any patient reply whose own task was lost (broker outage)."""
    from confirmations.replies import understand_waiting

    understand_waiting()
    # Well inside the task timeout (60 s): see send_due_messages.
    return str(dispatch.send_due_messages(budget=timedelta(seconds=25)))


def understand_reply(reply_id: int) -> str:
    """Queued by the inbound SMS and call webhooks."""
    from confirmations.replies import understand

    return understand(reply_id)


def erase_old_contents() -> str:
    """The daily retention task (confirmations/retention.py)."""
    from booking.online import forget_old_requests
    from confirmations.retention import erase_old_contents
    from hubsite.lockout import forget_old_attempts

    messages, replies = erase_old_contents()
    requests = forget_old_requests()
    failures, logins = forget_old_attempts()
    return (
        f"contents erased: {messages} messages, {replies} replies, {requests} online booking requests, "
        f"{failures} failed and {logins} successful logins"
    )
