"""Is the Hub well? For a load balancer (`/health/`: 200 or 503) and for
cron or Nagios (`manage.py health`: exit 0 or 2), with the same checks:

- the database answers;
- the cache answers (the patient pages' rate limits count in it);
- the task broker answers (the database, or Redis);
- the worker runs: the dispatcher's pass finished within the last 3 minutes;
- no message due for more than HUB_HEALTH_OVERDUE_MINUTES waits unsent;
- no message has been tried 4 times or more in vain (a provider down);
- no message has sat in "sending" for more than 5 minutes;
- and, for information, the failures of the last hour by reason.

Counts and ages only: never a patient, an address, a number or a text.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from outbox.models import Message

WORKER_LATE = timedelta(minutes=3)
STUCK_SENDING = timedelta(minutes=5)
RETRIES_BEFORE_ALARM = 4


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Health:
    checks: list[Check] = field(default_factory=list)
    failures_last_hour: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.ok else "failing",
            "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in self.checks},
            "failures_last_hour": self.failures_last_hour,
        }


def examine(web_only: bool = False) -> Health:
    """Every check; with `web_only`, only what this web server needs to
    serve pages (the database): a load balancer should not take every web
    server out because Redis or the worker is down, while the pages work."""
    health = Health()
    for name, probe in CHECKS[:1] if web_only else CHECKS:
        try:
            ok, detail = probe()
        except Exception as error:  # a check that cannot run is a failing check
            ok, detail = False, f"{type(error).__name__}"
        health.checks.append(Check(name, ok, detail))
    try:
        health.failures_last_hour = failures_last_hour()
    except Exception:
        health.failures_last_hour = {}
    return health


def database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


def shared_cache() -> tuple[bool, str]:
    cache.set("hub:health", "1", timeout=30)
    return cache.get("hub:health") == "1", settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def broker() -> tuple[bool, str]:
    from django_q.brokers import get_broker

    queue = get_broker()
    queue.queue_size()  # a real round trip (the ORM broker's ping() answers without one)
    return bool(queue.ping()), queue.__class__.__name__


def worker() -> tuple[bool, str]:
    """The dispatcher's pass (per minute, and after each change) finished
    within the last 3 minutes: a worker takes tasks and runs them."""
    from django_q.models import Success

    last = (
        Success.objects.filter(func__in=["confirmations.tasks.send_due_messages", "outbox.tasks.send_due_messages"])
        .order_by("-stopped")
        .values_list("stopped", flat=True)
        .first()
    )
    if last is None:
        return False, "no pass has run"
    minutes = max(0, int((timezone.now() - last).total_seconds() // 60))
    return timezone.now() - last <= WORKER_LATE, f"last pass {minutes} min ago"


def overdue() -> tuple[bool, str]:
    oldest = (
        Message.objects.filter(state=Message.State.PENDING, due_at__lte=timezone.now())
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    if oldest is None:
        return True, "none due"
    minutes = int((timezone.now() - oldest).total_seconds() // 60)
    return minutes <= settings.HUB_HEALTH_OVERDUE_MINUTES, f"oldest due {minutes} min ago"


def retrying() -> tuple[bool, str]:
    """A provider that keeps refusing (SMTP down): retried messages move
    their due time forward, so they are never "overdue"; after 4 tries (15
    minutes of 1, 2, 4, 8) they count here."""
    count = Message.objects.filter(state=Message.State.PENDING, attempts__gte=RETRIES_BEFORE_ALARM).count()
    return count == 0, f"{count} tried {RETRIES_BEFORE_ALARM} times or more"


def stuck() -> tuple[bool, str]:
    count = Message.objects.filter(state=Message.State.SENDING, claimed_at__lt=timezone.now() - STUCK_SENDING).count()
    return count == 0, f"{count} in sending for over {int(STUCK_SENDING.total_seconds() // 60)} min"


def failures_last_hour() -> dict[str, int]:
    since = timezone.now() - timedelta(hours=1)
    rows = (
        # A settled message keeps the instant it was last due: when it was tried.
        Message.objects.filter(state__in=[Message.State.FAILED, Message.State.UNKNOWN], due_at__gte=since)
        .values("reason")
        .annotate(count=Count("id"))
        .order_by("reason")
    )
    return {row["reason"] or "other": row["count"] for row in rows}


CHECKS = [
    ("database", database),
    ("cache", shared_cache),
    ("broker", broker),
    ("worker", worker),
    ("overdue messages", overdue),
    ("retrying", retrying),
    ("stuck in sending", stuck),
]
