"""The fast path on PostgreSQL: waking the worker without writing a row.

A change that has something to send now runs `NOTIFY hub_dispatch` inside
its own transaction (`wake_the_worker_after_commit`, below). PostgreSQL
delivers it when the transaction commits, never for one rolled back, and
once however many changes the transaction holds. The worker's main process
LISTENs (`Waker`, started by worker.Cluster) and queues a dispatcher pass
for each burst of notifications. A booking thus writes no task row and
opens no connection to wake the worker.

Notifications are not stored: one sent while the waker is reconnecting is
lost, and the per-minute pass sends its messages instead (the waker also
queues a pass each time it starts listening, to catch up). Behind PgBouncer
in transaction mode LISTEN cannot work: the Hub then writes a task row as
on SQLite (settings.HUB_WAKE).
"""

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django_q.tasks import async_task

log = logging.getLogger(__name__)

CHANNEL = "hub_dispatch"
# The dispatcher's pass, as the worker runs it.
PASS = "outbox.tasks.send_due_messages"
# A burst of commits (a slot series, a busy morning) makes one pass: the
# waker waits this long after a notification for the others.
SETTLE = 0.05
# A connection that only listens sends nothing, and would not notice being
# dropped by a firewall or a failover: after this long without a
# notification the waker asks the server something, and reconnects if it
# gets no answer (TCP keepalives, below, catch the rest).
PROBE_AFTER = 60.0


def by_notify() -> bool:
    return settings.HUB_WAKE == "notify" and connection.vendor == "postgresql"


def notify() -> None:
    """Wakes the worker when the current transaction commits (now, outside one)."""
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {CHANNEL}")


def queue_a_pass() -> None:
    close_old_connections()  # this thread's connection may have been idle for long
    queue(PASS)


class Waker(threading.Thread):
    """LISTENs on its own connection and calls `wake` once per burst of
    notifications, and once each time it (re)starts listening. Reconnects,
    with a growing pause, whenever its connection fails."""

    def __init__(self, wake: Callable[[], None] = queue_a_pass):
        super().__init__(name="hub-waker", daemon=True)
        self.wake = wake
        self.listening = threading.Event()
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        pause = 1.0
        while not self.stopped.is_set():
            try:
                with psycopg.connect(**conninfo(), autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    pause = 1.0
                    self._call_wake()  # what committed while nobody listened
                    self._listen(listener)
            except Exception:
                self.listening.clear()
                if self.stopped.is_set():
                    return
                log.warning("the worker's waker lost its database connection; retrying", exc_info=True)
                self.stopped.wait(pause)
                pause = min(pause * 2, 30.0)

    def _listen(self, listener) -> None:
        quiet_since = time.monotonic()
        while not self.stopped.is_set():
            if not any(True for _ in listener.notifies(timeout=1.0, stop_after=1)):
                if time.monotonic() - quiet_since > PROBE_AFTER:
                    listener.execute("SELECT 1")  # raises on a dead connection: reconnect
                    quiet_since = time.monotonic()
                continue
            quiet_since = time.monotonic()
            time.sleep(SETTLE)
            for _ in listener.notifies(timeout=0.0):  # the rest of the burst
                pass
            self._call_wake()

    def _call_wake(self) -> None:
        try:
            self.wake()
        except Exception:
            log.warning("the worker's waker could not queue a pass", exc_info=True)


# Django's own options, which are not libpq's.
DJANGO_ONLY = {"isolation_level", "server_side_binding", "prepare_threshold", "pool", "assume_role", "cursor_factory"}


def conninfo() -> dict:
    """The Hub's database, as Django connects to it (in tests, the test
    database), with every libpq option it is given (SSL, target session
    attributes, service…), and TCP keepalives."""
    settings_dict = connections["default"].settings_dict
    info = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
    info.update({key: value for key, value in settings_dict.get("OPTIONS", {}).items() if key not in DJANGO_ONLY})
    info.update(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
    )
    return {key: value for key, value in info.items() if value not in (None, "")}


def wake_the_worker_after_commit() -> None:
    """Asks the worker for a pass once the change commits: once per
    transaction, however many changes in it have something to send now (a
    slot series, a day closed, a batch of cancellations).

    On PostgreSQL, a NOTIFY inside the change's own transaction, which the
    worker's waker hears when it commits (outbox/waker.py). Else,
    with django-q2's database broker, the task row is written inside the
    transaction: the worker sees it exactly when the outbox rows commit, and
    never without them. With Redis, it is queued after the commit."""
    if any(callback in (dispatch_soon, _woken) for _sids, callback, _robust in connection.run_on_commit):
        return
    if by_notify():
        notify()  # delivered at commit; now, outside a transaction
        if connection.in_atomic_block:
            transaction.on_commit(_woken)
        return
    if "orm" in settings.Q_CLUSTER and connection.in_atomic_block:
        # Not through queue(): a failed INSERT here leaves the transaction
        # unusable, so it must fail the change (the database is failing).
        async_task(PASS)
        transaction.on_commit(_woken)  # marks this transaction as done
    else:
        transaction.on_commit(dispatch_soon)


def _woken() -> None:
    """Marker: this transaction already woke the worker."""


def dispatch_soon() -> None:
    """The fast path: ask the worker for a pass now rather than within the minute."""
    queue(PASS)


def queue(task: str, *args) -> None:
    """Hands a task to the worker. A broker outage must not fail the change
    that queued it: the outbox and reply rows are on record, and the
    per-minute schedule catches up."""
    try:
        async_task(task, *args)
    except Exception:
        log.warning("could not queue %s; the per-minute schedule will catch up", task, exc_info=True)
