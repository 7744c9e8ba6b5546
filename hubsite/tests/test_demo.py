"""The demo data covers every case the Hub handles, and loads twice (issue 2)."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from hubsite.demo import load_demo
from patients.models import Patient
from schedules.models import Appointment, Clinic, Professional, Service, Slot, StatusChange

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 2)  # a Wednesday


def counts() -> dict[str, int]:
    models = [Clinic, Professional, Service, Slot, Patient, Appointment, StatusChange, get_user_model()]
    return {model.__name__: model.objects.count() for model in models}


def test_loading_twice_changes_nothing():
    load_demo(TODAY)
    first = counts()
    load_demo(TODAY)
    assert counts() == first


def test_the_command_prints_the_logins(capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    for username in ("support", "plateau", "sherbrooke"):
        assert username in out


class TestCoverage:
    @pytest.fixture(autouse=True)
    def _demo(self):
        self.logins = load_demo(TODAY)

    def test_one_clinic_is_connected_and_one_is_not(self):
        assert sorted(Clinic.objects.values_list("hub_connected", flat=True)) == [False, True]

    def test_professionals_of_covered_and_uncovered_kinds(self):
        kinds = set(Professional.objects.values_list("kind", flat=True))
        assert kinds == set(Professional.Kind.values)

    def test_services_of_every_category_with_different_delays(self):
        for clinic in Clinic.objects.all():
            assert set(clinic.services.values_list("category", flat=True)) == set(Service.Category.values)
            delays = set(clinic.services.values_list("cancellation_delay", flat=True))
            assert None in delays and len(delays) >= 4

    def test_slots_for_the_next_three_weeks(self):
        local_days = {slot.professional.clinic.local(slot.start).date() for slot in Slot.objects.all()}
        assert min(local_days) < TODAY
        assert (max(local_days) - TODAY).days >= 20

    def test_about_thirty_patients_covering_every_contact_case(self):
        patients = Patient.objects.all()
        assert 25 <= patients.count() <= 35
        cases = {
            "email": patients.exclude(email="").filter(email__contains="@"),
            "other email only": patients.filter(email="").exclude(other_email=""),
            "mobile only": patients.filter(email="", other_email="", phone="").exclude(mobile=""),
            "phone only": patients.filter(email="", other_email="", mobile="").exclude(phone=""),
            "nothing usable": patients.filter(email="", other_email="", mobile="", phone=""),
            "malformed entries": patients.filter(email="not-an-email"),
            "French": patients.filter(language="fr"),
            "English": patients.filter(language="en"),
        }
        assert {case: query.exists() for case, query in cases.items()} == dict.fromkeys(cases, True)

    def test_appointments_from_yesterday_to_next_week(self):
        days = {a.clinic.local(a.start).date() for a in Appointment.objects.all()}
        assert min(days) < TODAY
        assert max(days) > TODAY
        assert all((day - TODAY).days <= 7 for day in days)
        assert Appointment.objects.filter(slot=None).exists()
        assert set(Appointment.objects.values_list("source", flat=True)) >= {"staff", "online_hub", "external"}

    def test_one_staff_login_per_clinic_and_one_support_login(self):
        User = get_user_model()
        for clinic in Clinic.objects.all():
            assert clinic.staff.count() == 1
        support = User.objects.get(username="support")
        assert support.groups.filter(name="support").exists()
        for login in self.logins:
            assert User.objects.get(username=login.username).check_password(login.password)
