"""The fast path on PostgreSQL: waking the worker without writing a row.

A change that has something to send now runs `NOTIFY hub_dispatch` inside
its own transaction (planning.wake_the_worker_after_commit). PostgreSQL
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
from django.db import close_old_connections, connection, connections

log = logging.getLogger(__name__)

CHANNEL = "hub_dispatch"
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
    from confirmations.planning import queue

    close_old_connections()  # this thread's connection may have been idle for long
    queue("confirmations.tasks.send_due_messages")


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
