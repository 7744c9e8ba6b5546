"""django-q2 entry points: they take no objects, only run plain functions."""

from confirmations.replies import understand, understand_waiting
from outbox import tasks


def send_due_messages() -> str:
    """The per-minute schedule: reads any patient reply whose own task was
    lost (a broker outage), then a dispatcher pass."""
    understand_waiting()
    return tasks.send_due_messages()


def understand_reply(reply_id: int) -> str:
    """Queued when the inbound SMS and call webhooks record a reply."""
    return understand(reply_id)
