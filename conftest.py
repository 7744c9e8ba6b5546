"""Shared fixtures: a connected clinic with one of everything, built fresh."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from patients.models import Patient
from schedules.models import Appointment, Clinic, Professional, Service, Slot

TORONTO = ZoneInfo("America/Toronto")


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Tests render admin pages without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_clinic(name: str = "Clinique du Parc", **fields) -> Clinic:
    fields = {"phone": "+15145550100", "hub_connected": True, **fields}
    return Clinic.objects.create(name=name, **fields)


def make_professional(clinic: Clinic, kind: str = Professional.Kind.GP, **fields) -> Professional:
    fields = {"first_name": "Marie", "last_name": "Tremblay", **fields}
    return Professional.objects.create(clinic=clinic, kind=kind, **fields)


def make_service(clinic: Clinic, category: str = Service.Category.IN_PERSON, **fields) -> Service:
    fields = {
        "name_fr": "Rendez-vous en clinique",
        "name_en": "In-clinic visit",
        "cancellation_delay": timedelta(hours=24),
        **fields,
    }
    return Service.objects.create(clinic=clinic, category=category, **fields)


def make_slot(professional: Professional, service: Service, start: datetime, minutes: int = 30) -> Slot:
    return Slot.objects.create(
        professional=professional, service=service, start=start, end=start + timedelta(minutes=minutes)
    )


def make_patient(clinic: Clinic, **fields) -> Patient:
    fields = {"first_name": "Jean", "last_name": "Roy", "language": "fr", "email": "jean@example.com", **fields}
    return Patient.objects.create(clinic=clinic, **fields)


def book(slot: Slot, patient: Patient, **fields) -> Appointment:
    return Appointment.objects.create(slot=slot, patient=patient, **fields)


@pytest.fixture
def clinic(db) -> Clinic:
    return make_clinic()


@pytest.fixture
def professional(clinic) -> Professional:
    return make_professional(clinic)


@pytest.fixture
def service(clinic) -> Service:
    return make_service(clinic)


@pytest.fixture
def slot(professional, service) -> Slot:
    return make_slot(professional, service, datetime(2026, 12, 3, 14, 30, tzinfo=TORONTO))


@pytest.fixture
def patient(clinic) -> Patient:
    return make_patient(clinic)
