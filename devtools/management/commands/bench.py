"""Speed figures (./hub bench), each beside its baseline from the same run.

Never run by the tests; never a timed assertion. On PostgreSQL (./hub bench
makes a throwaway database) it prints, medians of --runs runs:

- dispatch, instant provider: messages/s of the Hub's pass, beside a raw
  psycopg loop doing the essential database work of one message (claim one
  due row with SKIP LOCKED and mark it sending, commit; mark it sent and
  insert one history row, commit), and database round trips per message;
- dispatch, a provider answering in 100 ms: the Hub, beside one call at a
  time (10/s);
- one booking: milliseconds, queries and new connections, beside the same
  save with the planning signals disconnected;
- the admin's appointment list and search at --rows appointments, beside
  the same pages at 1,000.

This machine has two shared cores: trust the ratios, not the absolute times.
"""

import logging
import statistics
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models.signals import pre_save
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from confirmations import links, planning
from confirmations.content import snapshot_of
from outbox.dispatch import send_due_messages
from outbox.models import Message
from patients.models import Patient
from schedules.models import Appointment, Clinic, Professional, Service, Slot
from schedules.signals import appointment_saved

INSTANT = dict.fromkeys(("email", "sms", "voice"), "outbox.channels.LocalRecorder")
SLOW = dict.fromkeys(("email", "sms", "voice"), "devtools.management.commands.bench.SlowProvider")


class SlowProvider:
    """A provider that answers in 100 ms."""

    def send(self, message) -> str:
        time.sleep(0.1)
        return f"slow-{message.public_id}"


class Command(BaseCommand):
    help = "Prints speed figures beside their baselines (dispatch, booking, admin lists)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=2000, help="messages per dispatch run")
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--rows", type=int, default=1_000_000, help="appointments for the admin figures")
        parser.add_argument("--only", default="dispatch,slow,booking,pages,admin")

    def handle(self, *args, **options):
        name = str(connection.settings_dict["NAME"])
        if not (name.startswith("hub_bench") or name.endswith("bench.sqlite3")):
            # It sends every due message of the database with local channels
            # and withdraws pending ones: never on a real Hub's data.
            raise CommandError(f"bench runs only on a throwaway database (hub_bench_*), not {name!r}: use ./hub bench")
        logging.getLogger("django-q").setLevel(logging.WARNING)
        self.runs = options["runs"]
        self.world = World.build()
        only = options["only"].split(",")
        self.stdout.write(f"database: {connection.vendor}; medians of {self.runs} runs\n")
        self.stdout.write(f"{'what':<44} {'the Hub':>16} {'baseline':>16} {'ratio':>8}")
        if "dispatch" in only:
            self.dispatch(options["messages"])
        if "slow" in only:
            self.slow(min(options["messages"], 600))
        if "booking" in only:
            self.booking(200)
        if "pages" in only:
            self.pages()
        if "admin" in only:
            self.admin(options["rows"])

    def row(self, what: str, hub: float, baseline: float, unit: str, higher_is_better: bool = True) -> None:
        ratio = (hub / baseline if higher_is_better else baseline / hub) if hub and baseline else 0
        self.stdout.write(f"{what:<44} {hub:>10.1f} {unit:<5} {baseline:>10.1f} {unit:<5} {ratio:>7.0%}")

    # --- dispatch -------------------------------------------------------------

    def dispatch(self, count: int) -> None:
        hub, trips, raw = [], [], []
        for _ in range(self.runs):
            self.world.due_messages(count)
            with override_settings(HUB_CHANNELS=INSTANT), counting() as counts:
                began = time.perf_counter()
                sent = send_due_messages()["sent"]
                hub.append(sent / (time.perf_counter() - began))
            trips.append(counts.round_trips / max(sent, 1))
            if connection.vendor == "postgresql":
                self.world.due_messages(count)
                raw.append(self.world.raw_loop(count))
        self.row("dispatch, instant provider (msg/s)", statistics.median(hub), statistics.median(raw or [0]), "msg/s")
        self.stdout.write(f"{'  round trips per message':<44} {statistics.median(trips):>10.1f} {'':<5} {8:>10.1f}")

    def slow(self, count: int) -> None:
        hub, one = [], []
        for _ in range(self.runs):
            self.world.due_messages(count)
            with override_settings(HUB_CHANNELS=SLOW):
                began = time.perf_counter()
                sent = send_due_messages()["sent"]
                hub.append(sent / (time.perf_counter() - began))
            self.world.due_messages(20)
            with override_settings(HUB_CHANNELS=SLOW, HUB_SEND_CONCURRENCY=1):
                began = time.perf_counter()
                sent = send_due_messages()["sent"]
                one.append(sent / (time.perf_counter() - began))
        self.row(
            f"dispatch, 100 ms provider, {settings.HUB_SEND_CONCURRENCY} at once",
            statistics.median(hub),
            statistics.median(one),
            "msg/s",
        )

    # --- booking ----------------------------------------------------------------

    def booking(self, count: int) -> None:
        planned, plain, queries, connections = [], [], [], []
        for _ in range(self.runs):
            slots = self.world.free_slots(2 * count)
            with counting() as counts:
                began = time.perf_counter()
                for slot in slots[:count]:
                    Appointment.objects.create(slot=slot, patient=self.world.patient)
                planned.append((time.perf_counter() - began) * 1000 / count)
            queries.append(counts.statements / count)
            connections.append(counts.connections / count)
            with without_planning():
                began = time.perf_counter()
                for slot in slots[count:]:
                    Appointment.objects.create(slot=slot, patient=self.world.patient)
                plain.append((time.perf_counter() - began) * 1000 / count)
        self.row("one booking (ms)", statistics.median(planned), statistics.median(plain), "ms", higher_is_better=False)
        self.stdout.write(
            f"{'  queries, new connections per booking':<44} {statistics.median(queries):>10.1f} "
            f"{statistics.median(connections):>10.1f}"
        )

    # --- patient pages under gunicorn -------------------------------------------

    def pages(self) -> None:
        """The cancel page, beside a bare Django view, both served by the same
        gunicorn (2 workers, DEBUG off), each request from its own client
        address (so that the rate limit counts, and never refuses)."""
        slot = self.world.free_slots(1)[0]
        appointment = Appointment.objects.create(slot=slot, patient=self.world.patient)
        cancel = links.url_for(appointment.public_id, self.world.patient.public_id, links.CANCEL, "fr")
        cancel = "/" + cancel.split("/", 3)[3]
        with gunicorn() as port:
            hub = [load(port, cancel) for _ in range(self.runs)]
            bare = [load(port, "/bench/bare/") for _ in range(self.runs)]
        self.row("cancel page, gunicorn 2 workers (req/s)", statistics.median(hub), statistics.median(bare), "req/s")

    # --- admin lists ------------------------------------------------------------

    def admin(self, rows: int) -> None:
        user = get_user_model().objects.create_superuser(f"bench{timezone.now():%H%M%S%f}", password="x")
        client = Client()
        client.force_login(user)
        small = World.build(appointments=1000)
        large = World.build(appointments=rows)
        lists = {
            "appointment": ("/admin/schedules/appointment/?professional__clinic__id__exact={clinic}", "last_name"),
            "message": ("/admin/outbox/message/?clinic__id__exact={clinic}", "email"),
        }
        for model, (page, searched) in lists.items():
            for what in ("list", "search"):
                figures = {}
                for world in (small, large):
                    url = page.format(clinic=world.clinic.pk)
                    if what == "search":
                        url += f"&q={getattr(world.rare, searched)}"  # one patient among many
                    times = []
                    for _ in range(self.runs):
                        with override_settings(ALLOWED_HOSTS=["*"]):
                            began = time.perf_counter()
                            status = client.get(url, HTTP_HOST="localhost").status_code
                            times.append((time.perf_counter() - began) * 1000)
                        assert status == 200, status
                    figures[world] = statistics.median(times)
                self.row(
                    f"admin {model} {what} at {rows:,} (ms)",
                    figures[large],
                    figures[small],
                    "ms",
                    higher_is_better=False,
                )


class World:
    """A throwaway clinic for the figures."""

    @classmethod
    def build(cls, appointments: int = 0) -> "World":
        world = cls()
        stamp = f"{timezone.now():%H%M%S%f}"
        world.clinic = Clinic.objects.create(name=f"Bench {stamp}", phone="+15145550100", hub_connected=True)
        world.professional = Professional.objects.create(
            clinic=world.clinic, first_name="B", last_name=f"Bench{stamp}", kind="gp"
        )
        world.service = Service.objects.create(
            clinic=world.clinic, name_fr="Bench", name_en="Bench", category="in_person"
        )
        world.patient = Patient.objects.create(
            clinic=world.clinic, first_name="P", last_name="Bench", email="bench@example.com"
        )
        world.start = timezone.now() + timedelta(days=60)
        world.next_slot = 0
        slot, other = world.free_slots(2)
        world.appointment = Appointment.objects.create(slot=slot, patient=world.patient)
        world.rare = Patient.objects.create(
            clinic=world.clinic, first_name="Zoé", last_name=f"Quintal{stamp}", email=f"zoe{stamp}@example.com"
        )
        Appointment.objects.create(slot=other, patient=world.rare)
        # As if the confirmation had gone out: the message search finds it by address.
        Message.objects.filter(patient=world.rare).update(
            channel="email", to=world.rare.email, state="sent", sent_at=timezone.now()
        )
        if appointments > 1:
            world.fill(appointments - 1)
        return world

    def free_slots(self, count: int) -> list[Slot]:
        slots = []
        for _ in range(count):
            at = self.start + timedelta(minutes=30 * self.next_slot)
            self.next_slot += 1
            slots.append(
                Slot(professional=self.professional, service=self.service, start=at, end=at + timedelta(minutes=30))
            )
        Slot.objects.bulk_create(slots)
        return list(Slot.objects.filter(professional=self.professional).order_by("-start")[:count])[::-1]

    def due_messages(self, count: int) -> None:
        Message.objects.filter(state="pending", clinic=self.clinic).update(state="withdrawn")
        Message.objects.bulk_create(
            Message(
                appointment=self.appointment,
                # As if of as many appointments: one message per appointment
                # goes in each wave (the dispatcher keeps their order).
                appointment_ref=uuid.uuid4(),
                clinic=self.clinic,
                patient=self.patient,
                kind="reminder",
                language="fr",
                due_at=timezone.now() - timedelta(seconds=1),
                planned_start=self.appointment.start,
                snapshot=snapshot_of(self.appointment),
            )
            for _ in range(count)
        )

    def fill(self, count: int) -> None:
        """`count` more appointments in one statement (PostgreSQL), 30 minutes apart."""
        if connection.vendor != "postgresql":
            for slot in self.free_slots(count):
                Appointment.objects.create(slot=slot, patient=self.patient)
            return
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO schedules_appointment (public_id, patient_id, professional_id, service_id, start, "end",
                    source, status, communication, hub_reason, notes, created_at, updated_at, version)
                SELECT gen_random_uuid(), %s, %s, %s, %s + n * interval '30 minutes',
                    %s + n * interval '30 minutes' + interval '20 minutes', 'staff', 'booked', '{}', 'outside_slot', '',
                    now(), now(), 1
                FROM generate_series(1, %s) AS n
                """,
                [self.patient.pk, self.professional.pk, self.service.pk, self.start + timedelta(days=3650),
                 self.start + timedelta(days=3650), count],
            )  # fmt: skip
            cursor.execute(
                """
                INSERT INTO confirmations_message (public_id, appointment_id, appointment_ref, clinic_id, patient_id,
                    kind, channel, "to", language, due_at, planned_start, snapshot, state, sent_at, provider_id,
                    attempts, reason, error, subject, content, html, skip_contacts, created_at)
                SELECT gen_random_uuid(), NULL, gen_random_uuid(), %s, %s, 'reminder', 'email', 'bench@example.com',
                    'fr', %s - n * interval '1 minute', %s, '{}', 'sent', %s - n * interval '1 minute',
                    'bench-' || n, 1, '', '', 'Rappel', 'Rappel', '', '[]', now()
                FROM generate_series(1, %s) AS n
                """,
                [self.clinic.pk, self.patient.pk, self.start, self.start, self.start, count],
            )
            cursor.execute("ANALYZE schedules_appointment")
            cursor.execute("ANALYZE confirmations_message")

    def raw_loop(self, count: int) -> float:
        """The essential database work of one message, `count` times, in
        psycopg, on a connection with the Hub's own settings (statements
        prepared after five runs, as the Hub's are)."""
        import psycopg

        params = connection.get_connection_params()
        with psycopg.connect(**params) as raw, raw.cursor() as cursor:
            began = time.perf_counter()
            for _ in range(count):
                cursor.execute(
                    "SELECT id FROM confirmations_message WHERE state = 'pending' AND due_at <= now() "
                    "ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                )
                (pk,) = cursor.fetchone()
                cursor.execute(
                    "UPDATE confirmations_message SET state = 'sending', claimed_at = now() WHERE id = %s", [pk]
                )
                raw.commit()
                cursor.execute("UPDATE confirmations_message SET state = 'sent', sent_at = now() WHERE id = %s", [pk])
                cursor.execute(
                    "INSERT INTO schedules_statuschange (appointment_id, appointment_ref, clinic_id, at, status, "
                    "events, actor) VALUES (%s, %s, %s, now(), 'sent_email', '[{\"kind\": \"booked\"}]', 'hub')",
                    [self.appointment.pk, self.appointment.public_id, self.clinic.pk],
                )
                raw.commit()
            return count / (time.perf_counter() - began)


@contextmanager
def gunicorn():
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,  # the links signed here must read there
        "ALLOWED_HOSTS": "127.0.0.1",
        "HUB_LOCAL_CHANNELS": "1",
        "SECURE_SSL_REDIRECT": "0",
        "TRUSTED_PROXIES": "1",
        # The Hub's settings and URLs, plus the bare view (devtools/urls.py).
        "DJANGO_SETTINGS_MODULE": "devtools.settings",
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }
    # DEBUG off serves hashed static files: collect them first (staticfiles/).
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=settings.BASE_DIR, env=env)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "hubsite.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        load(port, "/bench/bare/", seconds=1)  # warm both workers
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def load(port: int, path: str, seconds: float = 5, clients: int = 8) -> float:
    """Requests per second that `clients` threads get answered (200) in `seconds`."""
    import http.client
    import itertools
    import threading

    numbers = itertools.count()
    done = []
    stop = time.monotonic() + seconds

    def client():
        answered = 0
        while time.monotonic() < stop:
            number = next(numbers)
            address = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers={"X-Forwarded-For": address})
            response = connection.getresponse()
            response.read()
            connection.close()
            answered += response.status == 200
        done.append(answered)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - began)


class Counts:
    statements = commits = connections = 0

    @property
    def round_trips(self) -> int:
        # psycopg opens each transaction with its own BEGIN; COMMIT is one more.
        return self.statements + 2 * self.commits


@contextmanager
def counting():
    counts = Counts()

    def statement(execute, sql, params, many, context):
        counts.statements += 1
        return execute(sql, params, many, context)

    def created(sender, **kwargs):
        counts.connections += 1

    commit = connection.commit

    def counted_commit():
        counts.commits += 1
        return commit()

    connection_created.connect(created)
    connection.commit = counted_commit
    try:
        with connection.execute_wrapper(statement):
            yield counts
    finally:
        del connection.commit
        connection_created.disconnect(created)


@contextmanager
def without_planning():
    pre_save.disconnect(planning.plan_change, sender=Appointment)
    appointment_saved.disconnect(planning.write_change, sender=Appointment)
    try:
        yield
    finally:
        pre_save.connect(planning.plan_change, sender=Appointment)
        appointment_saved.connect(planning.write_change, sender=Appointment)
