"""django-q2 entry points: they take no objects, only run plain functions."""

from confirmations.replies import understand, understand_waiting
from outbox import tasks
from outbox.waker import queue


def send_due_messages() -> str:
    """The per-minute schedule: reads any patient reply whose own task was
    lost (a broker outage), then a dispatcher pass."""
    understand_waiting()
    return tasks.send_due_messages()


def understand_reply(reply_id: int) -> str:
    """Queued when the inbound SMS and call webhooks record a reply."""
    return understand(reply_id)


def erase_old_contents() -> str:
    """The daily retention task's name before it moved to the site
    (hubsite/tasks.py): a task queued under it before an upgrade still runs,
    by name, once."""
    queue("hubsite.tasks.erase_old_contents")
    return "queued under its new name"
