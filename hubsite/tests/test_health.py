"""The health check fails for each thing that can go wrong, and tells no
patient data (issue 12)."""

import json
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone
from django_q.models import Task

from confirmations.tests.test_rate_limit_faults import closed_port, redis_cache
from conftest import book, make_patient
from outbox.models import Message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


def last_pass(ago: timedelta) -> None:
    """What the worker records of each pass it runs (django-q2's task results)."""
    Task.objects.all().delete()
    at = timezone.now() - ago
    Task.objects.create(
        id=uuid.uuid4().hex, name="pass", func="confirmations.tasks.send_due_messages",
        started=at - timedelta(seconds=1), stopped=at, success=True,
    )  # fmt: skip


@pytest.fixture
def worker_alive():
    last_pass(timedelta(seconds=30))


def report(client) -> tuple[int, dict]:
    response = client.get("/health/")
    return response.status_code, json.loads(response.content)


def failing(client) -> set[str]:
    status, body = report(client)
    assert status == (200 if body["status"] == "ok" else 503)
    return {name for name, check in body["checks"].items() if not check["ok"]}


def test_all_well_is_200(client, worker_alive):
    assert report(client)[0] == 200 and failing(client) == set()


def test_the_database_down(client, worker_alive, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    assert "database" in failing(client)


def test_the_cache_down(client, worker_alive, settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/0", "hub-test-health")
    assert failing(client) == {"cache"}


def test_the_broker_down(client, worker_alive, monkeypatch):
    from django_q.brokers.redis_broker import Redis

    unreachable = Redis.__new__(Redis)
    unreachable.connection = redis.Redis(port=closed_port(), socket_connect_timeout=1)
    monkeypatch.setattr("django_q.brokers.get_broker", lambda *args, **kwargs: unreachable)
    assert failing(client) == {"broker"}


def test_no_pass_for_more_than_3_minutes_means_no_worker(client):
    last_pass(timedelta(minutes=2))
    assert failing(client) == set()
    last_pass(timedelta(minutes=4))
    assert failing(client) == {"worker"}
    assert report(client)[1]["checks"]["worker"]["detail"] == "last pass 4 min ago"
    Task.objects.all().delete()
    assert failing(client) == {"worker"}


def test_a_message_overdue_for_more_than_10_minutes(client, worker_alive, slot, patient):
    appointment = book(slot, patient)
    confirmation = Message.objects.filter(appointment=appointment, kind="confirmation")
    confirmation.update(due_at=timezone.now() - timedelta(minutes=9))
    assert failing(client) == set()
    confirmation.update(due_at=timezone.now() - timedelta(minutes=11))
    assert failing(client) == {"overdue messages"}


def test_a_message_stuck_in_sending(client, worker_alive, slot, patient):
    appointment = book(slot, patient)
    confirmation = Message.objects.filter(appointment=appointment, kind="confirmation")
    confirmation.update(state="sending", claimed_at=timezone.now() - timedelta(minutes=6))
    assert failing(client) == {"stuck in sending"}


def test_it_tells_counts_never_patient_data(client, worker_alive, slot, clinic):
    appointment = book(slot, make_patient(clinic, first_name="Zoé", last_name="Quintal", email="zoe@example.com"))
    Message.objects.filter(appointment=appointment).update(
        state="failed",
        reason="bad_address",
        error="SMTP RCPT 550 5.1.1 <zoe@example.com> User unknown",
        to="zoe@example.com",
    )
    text = client.get("/health/").content.decode()
    assert json.loads(text)["failures_last_hour"] == {"bad_address": 2}
    assert "zoe" not in text.lower() and "Quintal" not in text and "550" not in text


def test_the_command_exits_0_when_well_and_2_when_not(worker_alive, capsys):
    with pytest.raises(SystemExit) as done:
        call_command("health")
    assert done.value.code == 0 and "OK   database" in capsys.readouterr().out
    last_pass(timedelta(minutes=10))
    with pytest.raises(SystemExit) as done:
        call_command("health")
    assert done.value.code == 2 and "FAIL worker: last pass 10 min ago" in capsys.readouterr().out


def test_a_load_balancer_asks_only_what_serving_pages_needs(client, settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/0", "hub-test-health")
    Task.objects.all().delete()
    assert client.get("/health/").status_code == 503
    response = client.get("/health/", {"scope": "web"})
    assert response.status_code == 200 and set(json.loads(response.content)["checks"]) == {"database"}


def test_a_provider_down_shows_as_messages_retrying(client, worker_alive, slot, patient):
    appointment = book(slot, patient)
    confirmation = Message.objects.filter(appointment=appointment, kind="confirmation")
    confirmation.update(attempts=3, due_at=timezone.now() + timedelta(minutes=8), reason="temporary")
    assert failing(client) == set()
    confirmation.update(attempts=4)
    assert failing(client) == {"retrying"}


def test_a_plain_http_probe_is_answered_not_redirected(client, worker_alive, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/admin/login/").status_code == 301
