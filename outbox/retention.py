"""How long the Hub keeps what it said and what patients answered.

Quebec's privacy law (Law 25) and the LRSSS limit how long health
information may be kept. A message's contents (subject, text, HTML, the
call's script) and the appointment snapshot it was written from, and the
words of a patient's reply, are erased once older than HUB_RETENTION_DAYS.
What staff and audits need stays: which patient, kind, channel, the
address or number, state, times, reason, who sent it again.
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from outbox.models import Message, Reply

# Messages still on their way keep their contents.
SETTLED = [
    Message.State.SENT,
    Message.State.DELIVERED,
    Message.State.FAILED,
    Message.State.WITHDRAWN,
    Message.State.UNKNOWN,
]


BATCH = 2000


def erase_old_contents(now: datetime | None = None, budget: timedelta = timedelta(seconds=40)) -> tuple[int, int]:
    """Erases what was said in messages and replies older than the retention
    period; returns how many messages and replies were erased. Each row is
    erased once (rows already empty are not touched again). In batches of
    short transactions, for at most `budget` (inside the task's timeout): a
    first run on years of messages goes on the next day where it stopped."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HUB_RETENTION_DAYS)
    # Only once the appointment itself is past the cutoff: a message may
    # still be sent again, from its snapshot, until then.
    # (An answer to an SMS concerns no appointment.)
    messages = (
        Message.objects.filter(created_at__lt=cutoff, state__in=SETTLED)
        .filter(Q(planned_start__lt=cutoff) | Q(planned_start__isnull=True))
        .exclude(subject="", content="", html="", snapshot={})
    )
    # A reply not yet understood (a late STOP) keeps its words until it is.
    replies = Reply.objects.filter(received_at__lt=cutoff).exclude(body="").exclude(outcome=Reply.Outcome.RECEIVED)
    deadline = time.monotonic() + budget.total_seconds()
    erased = []
    for rows, blank in (
        (messages, {"subject": "", "content": "", "html": "", "snapshot": {}}),
        (replies, {"body": ""}),
    ):
        count = 0
        while time.monotonic() < deadline:
            batch = list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH])
            if not batch:
                break
            count += rows.model.objects.filter(pk__in=batch).update(**blank)
        erased.append(count)
    return erased[0], erased[1]
