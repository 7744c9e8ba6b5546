"""Stopping the worker while it sends (outbox/worker.py).

systemd stops a service by sending SIGTERM to every process of it (KillMode=
control-group): the qcluster main process, django-q2's Sentinel, pusher,
monitor and workers all at once. A container runtime signals only the main
process. Either way the worker must finish the message it is sending, claim
no more (they stay pending for the next worker) and exit 0 on its own.

A real `manage.py qcluster` runs against the test database with a slow email
backend (below), so that a send is in flight when the signal comes. These need
PostgreSQL, like the other real-worker tests (test_concurrency.py).
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

from conftest import ahead, book, fault_row, make_patient, make_slot, postgres_only
from outbox.models import Message
from outbox.tests.test_concurrency import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

APPOINTMENTS = 5
SEND_SECONDS = 3.0
STOPPED_WITHIN = 30  # seconds; it takes about one send (3 s), well inside the 60 s task timeout


class SlowBackend(BaseEmailBackend):
    """A provider that takes its time, used by the worker process: writes
    "begin <message> <pid>" when a send starts and "delivered <message>" when the
    provider has it, one line each, to the file named by HUB_TEST_OUTBOX."""

    def send_messages(self, email_messages) -> int:
        outbox = Path(os.environ["HUB_TEST_OUTBOX"])
        for mail in email_messages:
            ref = mail.metadata["hub_message"]
            note(outbox, f"begin {ref} {os.getpid()}")
            time.sleep(SEND_SECONDS)
            note(outbox, f"delivered {ref}")
        return len(email_messages)


def note(outbox: Path, line: str) -> None:
    with outbox.open("a") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def outbox_lines(outbox: Path, word: str) -> Counter:
    if not outbox.exists():
        return Counter()
    return Counter(line.split()[1] for line in outbox.read_text().splitlines() if line.startswith(word + " "))


def book_several(clinic, professional, service, count: int = APPOINTMENTS) -> list[Message]:
    """`count` appointments, each with its confirmation due now (and a fast-path pass queued)."""
    first = ahead(hour=9, minute=0)  # the workers run on the real clock
    confirmations = []
    for number in range(count):
        slot = make_slot(professional, service, first + timedelta(minutes=30 * number))
        patient = make_patient(clinic, first_name=f"P{number}", email=f"patient{number}@example.com")
        appointment = book(slot, patient)
        confirmations.append(Message.objects.get(appointment=appointment, kind="confirmation"))
    assert {message.state for message in confirmations} == {"pending"}
    return confirmations


def start_worker(tmp_path: Path, workers: int) -> subprocess.Popen:
    with (tmp_path / "worker.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "HUB_WORKERS": str(workers),
                "EMAIL_BACKEND": f"{__name__}.SlowBackend",
                "HUB_TEST_OUTBOX": str(tmp_path / "outbox"),
                "PYTHONUNBUFFERED": "1",
                "PYTHONFAULTHANDLER": "1",  # SIGABRT prints where each process is (see `stopped`)
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a systemd service has its own cgroup
        )


def group_members(pgid: int) -> list[str]:
    """The processes still in the worker's process group: "pid (ppid) state"."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid, pgrp = fields[0], fields[1], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(f"{entry.name} (parent {ppid}) {state}")
    return members


def wait_for(condition, timeout: float, what: str, worker: subprocess.Popen, tmp_path: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert worker.poll() is None, f"the worker exited early:\n{(tmp_path / 'worker.log').read_text()}"
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{(tmp_path / 'worker.log').read_text()}")


def sender_of(outbox: Path, ref: str) -> int:
    """The pid of the worker process that began sending `ref`."""
    return next(int(line.split()[2]) for line in outbox.read_text().splitlines() if line.startswith(f"begin {ref} "))


def in_flight(confirmations: list[Message], outbox: Path) -> set[str]:
    """Messages claimed (`sending`) whose provider call has begun."""
    sending = {
        str(ref)
        for ref in Message.objects.filter(pk__in=[m.pk for m in confirmations], state="sending").values_list(
            "public_id", flat=True
        )
    }
    return sending & set(outbox_lines(outbox, "begin"))


def stopped(worker: subprocess.Popen, tmp_path: Path) -> int:
    """The main process's exit code, once the whole group has exited; after
    STOPPED_WITHIN seconds, a failure (and SIGKILL, as systemd would)."""
    deadline = time.monotonic() + STOPPED_WITHIN
    try:
        code = worker.wait(timeout=STOPPED_WITHIN)
        while group_members(worker.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = group_members(worker.pid)
        assert not left, f"processes left after the main process exited: {left}"
    except subprocess.TimeoutExpired:
        left = group_members(worker.pid)
        for member in left:  # each prints where it is stuck to the log (PYTHONFAULTHANDLER)
            os.kill(int(member.split()[0]), signal.SIGABRT)
            time.sleep(0.2)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        pytest.fail(
            f"the worker did not stop within {STOPPED_WITHIN} s and was killed (SIGKILL); "
            f"still running then: {left}\n{(tmp_path / 'worker.log').read_text()}"
        )
    return code


def assert_stopped_cleanly(confirmations: list[Message], outbox: Path, flying: set[str]) -> tuple[Counter, dict]:
    begun, delivered = outbox_lines(outbox, "begin"), outbox_lines(outbox, "delivered")
    # Every send that began was finished, and the provider got each message once.
    assert flying <= delivered.keys()
    assert begun == delivered, "a send was cut short"
    assert set(delivered.values()) == {1}, f"delivered more than once: {delivered}"
    # What the provider got is "sent" (not "sending", not "outcome unknown"), and
    # nothing was claimed after the signal: the rest waits for the next worker.
    states = {str(m.public_id): Message.objects.get(pk=m.pk).state for m in confirmations}
    assert states == {ref: "sent" if ref in delivered else "pending" for ref in states}
    assert "pending" in states.values(), "every message went out: the worker did not stop claiming"
    return delivered, states


def table_row(scenario: str, delivered: Counter, states: dict) -> None:
    """The fault suite's line: the messages left pending go with the next start (not lost)."""
    unknown = sum(1 for state in states.values() if state in ("unknown", "sending"))
    lost = sum(1 for ref, state in states.items() if state == "sent" and ref not in delivered)
    fault_row(scenario, len(states), len(delivered), sum(delivered.values()) - len(delivered), lost, unknown)


def stop_while_sending(tmp_path, confirmations, workers: int, send_signal) -> tuple[int, set[str]]:
    """Starts a worker, signals it (`send_signal`) once a send is in flight;
    returns its exit code and the messages that were in flight."""
    outbox = tmp_path / "outbox"
    worker = start_worker(tmp_path, workers=workers)
    try:
        flying = wait_for(lambda: in_flight(confirmations, outbox), 30, "a send in flight", worker, tmp_path)
        send_signal(worker)
        code = stopped(worker, tmp_path)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    return code, flying


def test_sigterm_to_the_whole_group_finishes_the_send_in_flight_and_exits_0(tmp_path, clinic, professional, service):
    """What systemd does by default: SIGTERM to every process of the service."""
    postgres_only(connection)
    confirmations = book_several(clinic, professional, service)

    code, flying = stop_while_sending(
        tmp_path, confirmations, workers=2, send_signal=lambda worker: os.killpg(worker.pid, signal.SIGTERM)
    )

    assert code == 0, (tmp_path / "worker.log").read_text()
    delivered, states = assert_stopped_cleanly(confirmations, tmp_path / "outbox", flying)
    table_row("worker stopped (SIGTERM to its group) mid-send", delivered, states)


def test_sigterm_to_the_main_process_only_stops_claiming_at_once(tmp_path, clinic, professional, service):
    """What a container runtime (or `kill <pid>`) does: SIGTERM to the main process only."""
    postgres_only(connection)
    confirmations = book_several(clinic, professional, service)

    code, flying = stop_while_sending(
        tmp_path, confirmations, workers=2, send_signal=lambda worker: os.kill(worker.pid, signal.SIGTERM)
    )

    assert code == 0, (tmp_path / "worker.log").read_text()
    assert_stopped_cleanly(confirmations, tmp_path / "outbox", flying)


def test_sigterm_to_one_worker_stops_the_whole_cluster_cleanly(tmp_path, clinic, professional, service):
    """A worker process signalled alone takes it, like every process of the
    cluster, as "stop the worker": it finishes its send, and the main process
    stops everything and exits 0 (documented in outbox/worker.py)."""
    postgres_only(connection)
    confirmations = book_several(clinic, professional, service)
    log = tmp_path / "worker.log"

    def signal_the_sending_worker(worker):
        (ref,) = in_flight(confirmations, tmp_path / "outbox")
        os.kill(sender_of(tmp_path / "outbox", ref), signal.SIGTERM)

    code, flying = stop_while_sending(tmp_path, confirmations, workers=1, send_signal=signal_the_sending_worker)

    assert code == 0, log.read_text()
    assert_stopped_cleanly(confirmations, tmp_path / "outbox", flying)
