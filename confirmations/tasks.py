"""django-q2 entry points: they take no objects, only run plain functions."""

from confirmations import dispatch


def send_due_messages() -> str:
    """The per-minute schedule and the fast path (planning.dispatch_soon)."""
    return str(dispatch.send_due_messages())
