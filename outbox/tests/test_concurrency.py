"""At most once under concurrency, and a real worker end to end (issue 3).

These need PostgreSQL: SQLite serialises writers and an in-memory test
database cannot be shared with a worker process. CI runs them
(HUB_REQUIRE_POSTGRES turns their skip into a failure there).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.utils import timezone

from confirmations.content import snapshot_of
from conftest import ahead, book, make_slot, postgres_only
from outbox import waker
from outbox.dispatch import send_due_messages
from outbox.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slot(professional, service):
    """Ahead of the real clock: the workers here are other processes, which no test clock reaches."""
    return make_slot(professional, service, ahead())


REDIS = "redis://127.0.0.1:6379/0"


def due_reminders(appointment, count: int) -> None:
    """`count` reminders due now, as if of as many appointments (one per wave each)."""
    Message.objects.bulk_create(
        Message(
            appointment=appointment,
            appointment_ref=uuid.uuid4(),
            clinic=appointment.professional.clinic,
            patient=appointment.patient,
            kind="reminder",
            language="fr",
            due_at=appointment.created_at,
            planned_start=appointment.start,
            snapshot=snapshot_of(appointment),
        )
        for _ in range(count)
    )


def test_four_dispatchers_send_each_of_1000_due_messages_exactly_once(slot, patient, channel_calls, settings):
    postgres_only(connection)
    settings.HUB_SEND_CONCURRENCY = 4  # and each sends four at a time
    appointment = book(slot, patient)
    Message.objects.all().delete()
    due_reminders(appointment, 1000)
    start_together = threading.Barrier(4)
    errors = []

    def dispatcher():
        try:
            start_together.wait(timeout=10)
            send_due_messages()
        except Exception as error:  # surfaced below: a thread cannot fail the test itself
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(channel_calls) == 1000
    assert len({call[0] for call in channel_calls}) == 1000
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}


def database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_real_worker_sends_the_confirmation_within_seconds(slot, patient):
    """Woken by the booking itself (NOTIFY, heard by the worker's waker): the
    per-minute pass is pushed an hour away, so it cannot be what sends."""
    from django_q.models import Schedule

    postgres_only(connection)
    Schedule.objects.update(next_run=timezone.now() + timedelta(hours=1))
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url(), "HUB_WORKERS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        # Once the worker listens (its catch-up pass done), the booking's
        # own NOTIFY is the only thing that can wake it within the minute.
        listening = f"SELECT 1 FROM pg_stat_activity WHERE query LIKE 'LISTEN {waker.CHANNEL}%%'"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(listening)
                if cursor.fetchone():
                    break
            time.sleep(0.2)
        time.sleep(1)  # its catch-up pass, on nothing
        appointment = book(slot, patient)  # commits: NOTIFY
        confirmation = Message.objects.get(appointment=appointment, kind="confirmation")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            confirmation.refresh_from_db()
            if confirmation.state not in ("pending", "sending"):  # claimed is not yet sent
                break
            time.sleep(0.2)
        assert (confirmation.state, confirmation.channel, confirmation.to) == ("sent", "email", "jean@example.com")
        appointment.refresh_from_db()
        assert appointment.status == "sent_email"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            output, _ = worker.communicate()
    assert "jean@example.com" in output  # the console email backend printed the mail


class SlowChannel:
    """A provider that takes 50 ms per call and counts how many calls overlap."""

    lock = threading.Lock()
    in_flight = 0
    most = 0
    calls: list = []

    def send(self, message) -> str:
        with self.lock:
            SlowChannel.in_flight += 1
            SlowChannel.most = max(SlowChannel.most, SlowChannel.in_flight)
        time.sleep(0.05)
        with self.lock:
            SlowChannel.in_flight -= 1
            SlowChannel.calls.append(message.pk)
        return f"slow-{message.pk}"


def test_one_dispatcher_calls_the_provider_for_several_messages_at_once(slot, patient, settings):
    postgres_only(connection)
    settings.HUB_SEND_CONCURRENCY = 8
    settings.HUB_CHANNELS = dict.fromkeys(("email", "sms", "voice"), "outbox.tests.test_concurrency.SlowChannel")
    SlowChannel.most, SlowChannel.calls = 0, []
    appointment = book(slot, patient)
    Message.objects.all().delete()
    due_reminders(appointment, 40)
    assert send_due_messages()["sent"] == 40
    assert sorted(SlowChannel.calls) == sorted(Message.objects.values_list("pk", flat=True))  # each once
    assert SlowChannel.most > 1
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}


class FileBackend(BaseEmailBackend):
    """An email provider shared by several processes: one line per message
    received, appended to the file named by HUB_TEST_OUTBOX."""

    def send_messages(self, email_messages) -> int:
        with open(os.environ["HUB_TEST_OUTBOX"], "a") as outbox:
            for mail in email_messages:
                outbox.write(f"{mail.metadata['hub_message']}\n")  # one short write: atomic with O_APPEND
        return len(email_messages)


@pytest.fixture
def pgbouncer():
    """A real PgBouncer in transaction mode in front of the test database
    (Debian's package; CI installs it): each transaction may run on another
    server connection, so nothing may rely on session state."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(binary):
        if os.environ.get("HUB_REQUIRE_POSTGRES"):
            pytest.fail("PgBouncer (Debian package pgbouncer) is not installed; run .ci/install-packages")
        pytest.skip("needs PgBouncer (Debian package pgbouncer)")
    db = connection.settings_dict
    home = Path(tempfile.mkdtemp(prefix="hub-pgbouncer-"))
    home.chmod(0o755)  # PgBouncer refuses to run as root: it runs as postgres
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (home / "users.txt").write_text(f'"{db["USER"]}" "{db["PASSWORD"] or ""}"\n')
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={db["HOST"] or "127.0.0.1"} port={db["PORT"] or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
"""
    )
    for path in home.iterdir():
        path.chmod(0o644)
    command = [binary, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    log = home / "pgbouncer.log"
    with open(log, "w") as output:  # its log, to stderr: opened here, as it may not write in `home`
        bouncer = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if bouncer.poll() is not None:
                pytest.fail(f"PgBouncer did not start: {log.read_text()}")
            time.sleep(0.1)
    try:
        yield {"port": port, "log": log}
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


def run_dispatchers(processes: int, env: dict) -> list[int]:
    machines = [
        subprocess.Popen([sys.executable, "manage.py", "send_due_messages"], cwd=settings.BASE_DIR, env=env)
        for _ in range(processes)
    ]
    return [machine.wait(timeout=300) for machine in machines]


@pytest.mark.parametrize("through", ["database", "pgbouncer"])
def test_four_worker_machines_on_one_database_send_each_of_2000_messages_once(
    slot, patient, tmp_path, through, request
):
    """Scale-out: four dispatcher processes (as on four machines) share one
    PostgreSQL, directly or through PgBouncer in transaction mode; SKIP
    LOCKED hands each due message to exactly one. None twice, none left."""
    postgres_only(connection)
    appointment = book(slot, patient)
    Message.objects.all().delete()
    due_reminders(appointment, 2000)
    outbox = tmp_path / "outbox"
    url = database_url()
    extra = {}
    if through == "pgbouncer":
        bouncer = request.getfixturevalue("pgbouncer")
        url = url.replace(f":{connection.settings_dict['PORT'] or 5432}/", f":{bouncer['port']}/")
        extra = {"DATABASE_PGBOUNCER": "1"}
    env = {
        **os.environ,
        **extra,
        "DATABASE_URL": url,
        "EMAIL_BACKEND": f"{__name__}.FileBackend",
        "HUB_TEST_OUTBOX": str(outbox),
        "HUB_SEND_CONCURRENCY": "8",
    }
    assert run_dispatchers(4, env) == [0, 0, 0, 0]
    received = Counter(outbox.read_text().split())
    public_ids = {str(public_id) for public_id in Message.objects.values_list("public_id", flat=True)}
    assert len(public_ids) == 2000
    assert set(received) == public_ids  # none left
    assert set(received.values()) == {1}  # none twice
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}
    if through == "pgbouncer":
        assert "login attempt" in bouncer["log"].read_text()  # they did go through it


def test_a_claim_takes_no_more_than_its_limit_even_on_stale_statistics(slot, patient):
    """Found in review: with statistics from an empty table, a LIMIT … SKIP
    LOCKED subquery inside the UPDATE can be run again per row and slide past
    its limit; the whole backlog was claimed as one batch."""
    from outbox.states import claim_due

    postgres_only(connection)
    appointment = book(slot, patient)
    Message.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE confirmations_message")  # statistics of an empty table
    due_reminders(appointment, 300)
    assert len(claim_due(64)) == 64
    assert Message.objects.filter(state="sending").count() == 64


def test_a_worker_with_redis_as_its_broker_sends_the_confirmation(slot, patient):
    """Scale-out with Redis as django-q2's broker (REDIS_URL): the worker
    takes the pass from Redis and sends through the shared database."""
    postgres_only(connection)
    import redis
    from django_q.brokers.redis_broker import Redis
    from django_q.tasks import async_task

    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError as error:
        if os.environ.get("HUB_REQUIRE_REDIS"):
            pytest.fail(f"Redis is not reachable at {REDIS}: {error}")
        pytest.skip(f"needs Redis at {REDIS}")
    broker = Redis()
    broker.connection = redis.Redis.from_url(REDIS)
    broker.purge_queue()
    appointment = book(slot, patient)
    # This test process's own broker is the database; the worker's is Redis.
    async_task("confirmations.tasks.send_due_messages", broker=broker)
    assert broker.queue_size() == 1
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url(), "HUB_WORKERS": "1", "REDIS_URL": REDIS},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        confirmation = Message.objects.get(appointment=appointment, kind="confirmation")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            confirmation.refresh_from_db()
            if confirmation.state not in ("pending", "sending"):
                break
            time.sleep(0.2)
        assert (confirmation.state, confirmation.to) == ("sent", "jean@example.com")
        assert broker.queue_size() == 0  # the worker took the pass from Redis
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()
