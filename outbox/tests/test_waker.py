"""Waking the worker on PostgreSQL by NOTIFY/LISTEN (outbox/waker.py):
one notification per committed change, none for a rollback, heard by the
worker's waker, which queues a pass, and which reconnects when its
connection is cut."""

import time

import psycopg
import pytest
from django.db import connection, transaction

from conftest import ahead, book, make_patient, make_slot, postgres_only
from outbox import waker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slot(professional, service):
    """Ahead of the real clock: the booking has a confirmation to send now."""
    return make_slot(professional, service, ahead())


@pytest.fixture
def listening():
    """The notifications PostgreSQL delivers, heard on a second connection."""
    postgres_only(connection)
    with psycopg.connect(**waker.conninfo(), autocommit=True) as listener:
        listener.execute(f"LISTEN {waker.CHANNEL}")

        def heard() -> int:
            return sum(1 for _ in listener.notifies(timeout=0.5))

        yield heard


def test_a_booking_notifies_once_it_commits(listening, slot, patient):
    with transaction.atomic():
        book(slot, patient)
        assert listening() == 0  # not before the commit
    assert listening() == 1


def test_a_change_rolled_back_notifies_nothing(listening, slot, patient):
    with pytest.raises(RuntimeError), transaction.atomic():
        book(slot, patient)
        raise RuntimeError("the change fails")
    assert listening() == 0


def test_several_bookings_in_one_transaction_notify_once(listening, clinic, professional, service, slot):
    with transaction.atomic():
        for hour in range(3):
            later = make_slot(professional, service, slot.start.replace(hour=9 + hour))
            book(later, make_patient(clinic, first_name=f"P{hour}"))
    assert listening() == 1


def test_a_booking_writes_no_task_row_to_wake_the_worker(listening, slot, patient):
    from django_q.models import OrmQ

    book(slot, patient)
    assert OrmQ.objects.count() == 0 and listening() == 1


@pytest.fixture
def running_waker():
    postgres_only(connection)
    woken = []
    thread = waker.Waker(wake=lambda: woken.append(time.monotonic()))
    thread.start()
    assert thread.listening.wait(10)
    yield thread, woken
    thread.stop()
    thread.join(5)


def wait_for(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_waker_queues_a_pass_for_a_committed_booking(running_waker, slot, patient):
    thread, woken = running_waker
    assert wait_for(lambda: len(woken) == 1)  # the catch-up pass on starting to listen
    book(slot, patient)
    assert wait_for(lambda: len(woken) == 2)


def test_a_burst_of_commits_is_followed_by_a_pass(running_waker, clinic, professional, service, slot):
    thread, woken = running_waker
    assert wait_for(lambda: len(woken) == 1)
    for hour in range(5):
        book(make_slot(professional, service, slot.start.replace(hour=8 + hour)), make_patient(clinic))
    last_commit = time.monotonic()
    assert wait_for(lambda: woken[-1] > last_commit)  # nothing committed is left waiting for the minute


def listener_pid() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE query LIKE %s", [f"LISTEN {waker.CHANNEL}%"])
        row = cursor.fetchone()
    return row[0] if row else None


def test_a_quiet_connection_is_probed(running_waker, monkeypatch):
    """A connection dropped without a word (a firewall, a failover) would
    never be noticed by one that only listens: after a quiet while the
    waker asks the server something, which fails on a dead connection."""
    thread, woken = running_waker
    pid = listener_pid()
    assert pid is not None
    monkeypatch.setattr(waker, "PROBE_AFTER", 0.3)

    def last_query() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone()[0]

    assert wait_for(lambda: last_query() == "SELECT 1", 5)


def test_the_waker_reconnects_when_its_connection_is_cut(running_waker, slot, patient):
    thread, woken = running_waker
    assert wait_for(lambda: len(woken) == 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
            [f"LISTEN {waker.CHANNEL}%"],
        )
    assert wait_for(lambda: not thread.listening.is_set() or len(woken) >= 2, 5)
    assert thread.listening.wait(10) and wait_for(lambda: len(woken) >= 2)  # listening again, caught up
    before = len(woken)
    book(slot, patient)
    assert wait_for(lambda: len(woken) > before)


def test_the_waker_stops_when_asked(running_waker):
    thread, _woken = running_waker
    thread.stop()
    thread.join(5)
    assert not thread.is_alive()
