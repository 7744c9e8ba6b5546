"""The production smoke test (issue 12): gunicorn and a worker with DEBUG
off, on PostgreSQL and Redis, email only, to a real SMTP server on
loopback. A booking's confirmation arrives, the patient cancels over HTTP,
the health check is green, and both processes stop cleanly on SIGTERM."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from conftest import book, make_patient, make_slot, postgres_only
from outbox.tests.mail_server import MailServer, free_port
from outbox.tests.test_concurrency import database_url
from schedules.models import Appointment

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = "redis://127.0.0.1:6379/0"


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def fetch(url: str, data: dict | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(url, data=body, timeout=10) as response:  # noqa: S310 -- loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def stop(process: subprocess.Popen) -> int:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def test_a_production_hub_sends_lets_the_patient_cancel_and_stops_cleanly(clinic, professional, service, tmp_path):
    postgres_only(connection)
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("HUB_REQUIRE_REDIS"):
            pytest.fail(f"Redis is not reachable at {REDIS}: {error}")
        pytest.skip(f"needs Redis at {REDIS}")
    mail, port = MailServer().start(), free_port()
    ours = ("DEBUG", "HUB_", "EMAIL_", "TWILIO_", "ANYMAIL_", "DATABASE_", "REDIS_URL", "DJANGO_", "SECRET_KEY")
    env = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    env.update(
        DEBUG="0", SECRET_KEY="smoke-test-" + "k" * 40, ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url(), REDIS_URL=REDIS, HUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(mail.port), DEFAULT_FROM_EMAIL="Clinique <rv@clinique.example>",
        STATIC_ROOT=str(tmp_path / "static"), HUB_WORKERS="1",
    )  # fmt: skip
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=settings.BASE_DIR, env=env, check=True)
    check = subprocess.run([*manage, "check", "--deploy"], cwd=settings.BASE_DIR, env=env, capture_output=True)
    assert check.returncode == 0, check.stderr.decode()

    # The booking (as staff would), then the per-minute schedule the migrations install.
    appointment = book(make_slot(professional, service, timezone.now() + timedelta(days=5)), make_patient(clinic))
    Schedule.objects.update_or_create(
        name="send due messages",  # as migration confirmations 0003 installs it
        defaults={"func": "confirmations.tasks.send_due_messages", "schedule_type": "I", "minutes": 1,
                  "repeats": -1, "next_run": timezone.now()},
    )  # fmt: skip

    options = {"cwd": settings.BASE_DIR, "env": env, "start_new_session": True}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "hubsite.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--graceful-timeout", "20"],
        **options,
    )  # fmt: skip
    worker = subprocess.Popen([*manage, "qcluster"], **options)
    try:
        wait_for(lambda: mail.received, 60, "the confirmation email")
        confirmation = mail.received[0]
        assert confirmation["To"] == "jean@example.com"
        text = confirmation.get_body(("plain",)).get_content()
        cancel = re.search(rf"http://127\.0\.0\.1:{port}/rendez-vous/annuler/\S+/", text).group(0)

        status, page = fetch(cancel)
        assert status == 200 and "Annuler votre rendez-vous" in page
        status, page = fetch(cancel, {})  # the button
        assert status == 200 and "Votre rendez-vous est annulé" in page
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.CANCELLED

        status, health = wait_for(
            lambda: (lambda answer: answer if answer[0] == 200 else None)(fetch(f"http://127.0.0.1:{port}/health/")),
            60,
            "a green health check",
        )
        assert '"status": "ok"' in health
    finally:
        web_code, worker_code = stop(web), stop(worker)
        mail.stop()
    assert (web_code, worker_code) == (0, 0)
    assert fetch(f"http://127.0.0.1:{port}/health/")[0] == 0  # nothing listens any more
