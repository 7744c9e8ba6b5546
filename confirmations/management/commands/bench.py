"""Figures for the speed targets (./hub bench): never run by the tests.

Builds a throwaway clinic in the configured database, then measures
- the dispatcher: messages sent per second with the local channels;
- the admin change lists: queries and milliseconds per page as the tables
  grow (the query count must not grow with them).
"""

import logging
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from confirmations.content import snapshot_of
from confirmations.dispatch import send_due_messages
from confirmations.models import Message
from patients.models import Patient
from schedules.models import Appointment, Clinic, Professional, Service, Slot

LOCAL = dict.fromkeys(("email", "sms", "voice"), "confirmations.channels.LocalRecorder")


class Command(BaseCommand):
    help = "Prints speed figures for the dispatcher and the admin change lists."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1000)
        parser.add_argument("--sizes", default="100,1000,3000")

    def handle(self, *args, **options):
        logging.getLogger("django-q").setLevel(logging.WARNING)  # one "Enqueued" line per booking
        clinic = Clinic.objects.create(name=f"Bench {timezone.now():%H%M%S}", phone="+15145550100", hub_connected=True)
        professional = Professional.objects.create(clinic=clinic, first_name="B", last_name="Bench", kind="gp")
        service = Service.objects.create(clinic=clinic, name_fr="Bench", name_en="Bench", category="in_person")
        patient = Patient.objects.create(clinic=clinic, first_name="P", last_name="Bench", email="bench@example.com")
        start = timezone.now() + timedelta(days=60)

        slot = Slot.objects.create(
            professional=professional, service=service, start=start, end=start + timedelta(minutes=30)
        )
        appointment = Appointment.objects.create(slot=slot, patient=patient)
        Message.objects.filter(appointment=appointment).delete()
        Message.objects.bulk_create(
            Message(
                appointment=appointment,
                appointment_ref=appointment.public_id,
                clinic=clinic,
                patient=patient,
                kind="reminder",
                language="fr",
                due_at=timezone.now(),
                planned_start=appointment.start,
                snapshot=snapshot_of(appointment),
            )  # fmt: skip
            for _ in range(options["messages"])
        )
        with override_settings(HUB_CHANNELS=LOCAL):
            began = time.perf_counter()
            summary = send_due_messages()
            elapsed = time.perf_counter() - began
        self.stdout.write(
            f"dispatcher: {summary['sent']} messages in {elapsed:.2f} s = {summary['sent'] / elapsed:.0f} messages/s "
            f"({connection.vendor})"
        )

        admin = get_user_model().objects.create_superuser(f"bench{timezone.now():%H%M%S%f}", password="x")
        client = Client()
        client.force_login(admin)
        made = 1
        for size in [int(size) for size in options["sizes"].split(",")]:
            while made < size:
                at = start + timedelta(minutes=30 * made)
                slot = Slot.objects.create(
                    professional=professional, service=service, start=at, end=at + timedelta(minutes=30)
                )
                Appointment.objects.create(slot=slot, patient=patient)
                made += 1
            for path in ("/admin/schedules/appointment/", "/admin/confirmations/message/"):
                queries = []
                with override_settings(ALLOWED_HOSTS=["*"]), connection.execute_wrapper(counting(queries)):
                    began = time.perf_counter()
                    status = client.get(path, HTTP_HOST="localhost").status_code
                    elapsed = time.perf_counter() - began
                figures = f"{len(queries):>2} queries, {elapsed * 1000:4.0f} ms (HTTP {status})"
                self.stdout.write(f"{path:<32} {size:>5} appointments: {figures}")


def counting(queries: list):
    def wrapper(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    return wrapper
