"""django-q2 entry points of the outbox: they take no objects, only run plain functions."""

from datetime import timedelta

from outbox import dispatch


def send_due_messages() -> str:
    """The fast path (waker.wake_the_worker_after_commit): a dispatcher pass,
    well inside the task timeout (60 s): see dispatch.send_due_messages.
    Replies left unread by a broker outage are the per-minute pass's
    (confirmations.tasks.send_due_messages), which runs this one after."""
    return str(dispatch.send_due_messages(budget=timedelta(seconds=25)))
