"""The audit history: who changed which field of a patient, professional,
service, clinic or staff account, from what, to what; seen by the record's
own clinic and by support, never across clinics."""

from datetime import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from conftest import make_clinic, make_patient, make_professional, make_service, make_staff
from schedules.access import STAFF_GROUP, SUPPORT_GROUP

pytestmark = pytest.mark.django_db


def member(clinic, username: str, group: str = STAFF_GROUP, **names) -> User:
    return make_staff(clinic, username, group, **names)


def patient_form(patient, **changes) -> dict:
    fields = ["clinic", "first_name", "last_name", "language", "email", "other_email"]
    data = {name: getattr(patient, name if name != "clinic" else "clinic_id") for name in fields}
    for name in ("mobile", "other_mobile", "phone", "other_phone"):
        data[name] = str(getattr(patient, name) or "")
    return {**data, **changes}


def test_a_patients_email_changed_by_a_named_staff_member_is_on_record(client, clinic):
    patient = make_patient(clinic, email="jean.roy@example.com")
    julie = member(clinic, "julie", first_name="Julie", last_name="Roy")
    client.force_login(julie)
    response = client.post(
        f"/admin/patients/patient/{patient.pk}/change/", patient_form(patient, email="jean.roy@exemple.com")
    )
    assert response.status_code == 302
    change = patient.audit.latest()
    assert change.history_user == julie and change.history_type == "~"
    [(field, old, new)] = [(c.field, c.old, c.new) for c in change.diff_against(change.prev_record).changes]
    assert (field, old, new) == ("email", "jean.roy@example.com", "jean.roy@exemple.com")

    page = client.get(f"/admin/patients/patient/{patient.pk}/history/").content.decode()
    assert "Julie" in page or "julie" in page
    assert "jean.roy@example.com" in page and "jean.roy@exemple.com" in page
    assert "Courriel" in page


@pytest.fixture
def records(clinic):
    """One of each audited record in clinic A."""
    return {
        "patients/patient": make_patient(clinic),
        "schedules/professional": make_professional(clinic),
        "schedules/service": make_service(clinic),
        "schedules/clinic": clinic,
    }


@pytest.mark.parametrize(
    "model", ["patients/patient", "schedules/professional", "schedules/service", "schedules/clinic"]
)
def test_staff_see_their_own_clinics_history_and_none_of_anothers(client, records, clinic, model):
    record = records[model]
    version = record.audit.latest()
    client.force_login(member(clinic, "julie"))
    assert client.get(f"/admin/{model}/{record.pk}/history/").status_code == 200
    client.force_login(member(make_clinic("Clinique B"), "autre"))
    assert client.get(f"/admin/{model}/{record.pk}/history/").status_code == 404
    assert client.get(f"/admin/{model}/{record.pk}/history/{version.pk}/").status_code == 404


@pytest.mark.parametrize(
    "model", ["patients/patient", "schedules/professional", "schedules/service", "schedules/clinic"]
)
def test_support_see_every_clinics_history(client, records, model):
    client.force_login(member(None, "soutien", SUPPORT_GROUP))
    assert client.get(f"/admin/{model}/{records[model].pk}/history/").status_code == 200


def test_support_see_a_deleted_patients_history_and_staff_do_not(client, clinic):
    patient = make_patient(clinic)
    pk = patient.pk
    patient.delete()
    client.force_login(member(clinic, "julie"))
    assert client.get(f"/admin/patients/patient/{pk}/history/").status_code == 404
    client.force_login(member(None, "soutien", SUPPORT_GROUP))
    assert client.get(f"/admin/patients/patient/{pk}/history/").status_code == 200


@pytest.mark.parametrize("bad", ["abc", "99999999999999999999999", "-1", "%00"])
def test_a_malformed_id_is_a_404(client, clinic, bad):
    client.force_login(member(clinic, "julie"))
    assert client.get(f"/admin/patients/patient/{bad}/history/").status_code in (302, 404)
    assert client.get(f"/admin/patients/patient/1/history/{bad}/").status_code in (302, 404)


def test_nothing_is_restored_from_the_history(client, clinic):
    patient = make_patient(clinic, email="jean.roy@example.com")
    first = patient.audit.earliest()
    patient.email = "autre@example.com"
    patient.save()
    client.force_login(member(None, "soutien", SUPPORT_GROUP))
    url = f"/admin/patients/patient/{patient.pk}/history/{first.pk}/"
    assert client.get(url).status_code == 200  # the old version, to read
    assert client.post(url, patient_form(patient, email=first.email)).status_code == 405
    patient.refresh_from_db()
    assert patient.email == "autre@example.com"


def test_a_staff_accounts_changes_are_on_record_never_its_password(client, clinic):
    staff = member(clinic, "accueil", first_name="Lucie", email="lucie@parc.example.org")
    support = member(None, "soutien", SUPPORT_GROUP)
    staff.email = "lucie.roy@parc.example.org"
    staff._history_user = support
    staff.save()
    change = staff.audit.latest()
    assert (change.email, change.history_user) == ("lucie.roy@parc.example.org", support)
    assert not hasattr(change, "password")
    client.force_login(support)
    assert client.get(f"/admin/auth/user/{staff.pk}/history/").status_code == 200
    client.force_login(member(clinic, "julie"))
    assert client.get(f"/admin/auth/user/{staff.pk}/history/").status_code in (403, 404)


def test_who_gave_or_took_away_access_to_a_clinic_is_on_record(client, clinic):
    elsewhere = make_clinic("Autre clinique")
    staff = member(clinic, "accueil")
    support = member(None, "soutien", SUPPORT_GROUP, first_name="Sam", last_name="Soutien")
    client.force_login(support)
    form = {"username": "accueil", "email": "", "is_active": "on", "clinics": [elsewhere.pk]}
    assert client.post(f"/admin/auth/user/{staff.pk}/change/", form).status_code == 302

    gained, lost = elsewhere.audit.latest(), clinic.audit.latest()
    assert gained.history_user == support and lost.history_user == support
    assert [row.user_id for row in gained.staff.all()] == [staff.pk]
    assert [row.user_id for row in lost.staff.all()] == []
    page = client.get(f"/admin/schedules/clinic/{elsewhere.pk}/history/").content.decode()
    assert "Sam" in page or "soutien" in page


def test_a_change_of_role_is_on_the_accounts_record(clinic):
    staff = member(clinic, "accueil")
    staff.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    latest = staff.audit.latest()
    assert sorted(group.group.name for group in latest.groups.all()) == sorted([STAFF_GROUP, SUPPORT_GROUP])


def test_access_given_from_the_accounts_side_is_recorded_without_error(clinic):
    staff = member(None, "accueil")
    staff.clinics.add(clinic)  # the reverse side of Clinic.staff
    assert [row.user_id for row in clinic.audit.latest().staff.all()] == [staff.pk]


def test_access_taken_away_from_the_accounts_side_is_recorded_too(clinic):
    elsewhere = make_clinic("Autre clinique")
    staff = member(clinic, "accueil")
    elsewhere.staff.add(staff)
    staff.clinics.clear()
    for place in (clinic, elsewhere):
        assert list(place.audit.latest().staff.all()) == []


def test_a_role_given_from_the_groups_side_is_recorded(clinic):
    staff = member(clinic, "accueil")
    Group.objects.get(name=SUPPORT_GROUP).user_set.add(staff)
    assert SUPPORT_GROUP in [row.group.name for row in staff.audit.latest().groups.all()]


# --- An appointment's whole story -------------------------------------------


@pytest.fixture
def moved_then_cancelled(client, clinic):
    """Booked on December 3 at 14:30, moved a week later by Julie from the
    agenda, then cancelled from its page."""
    from conftest import TORONTO, book, make_slot

    julie = member(clinic, "julie", first_name="Julie", last_name="Roy")
    professional, service = make_professional(clinic), make_service(clinic)
    first = make_slot(professional, service, datetime(2026, 12, 3, 14, 30, tzinfo=TORONTO))
    later = make_slot(professional, service, datetime(2026, 12, 10, 9, 0, tzinfo=TORONTO))
    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO), tick=False):
        appointment = book(first, make_patient(clinic))
        client.force_login(julie)
        client.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": later.pk})
        appointment.refresh_from_db()
        client.post(f"/admin/schedules/appointment/{appointment.pk}/cancel/", {"version": appointment.version})
        appointment.refresh_from_db()
        assert appointment.slot == later and not appointment.is_active
        yield appointment


@pytest.mark.parametrize(
    "language, moved, cancelled",
    [
        ("fr", "Déplacé du 3 décembre 2026 à 14\u00a0h\u00a030 au 10 décembre 2026 à 9\u00a0h.", "Annulé"),
        ("en", "Moved from December 3, 2026 at 2:30 PM to December 10, 2026 at 9:00 AM.", "Cancelled"),
    ],
)
def test_an_appointments_history_button_tells_its_whole_story(client, moved_then_cancelled, language, moved, cancelled):
    appointment = moved_then_cancelled
    form = client.get(f"/admin/schedules/appointment/{appointment.pk}/change/").content.decode()
    assert f'href="/admin/schedules/appointment/{appointment.pk}/history/"' in form
    page = client.get(
        f"/admin/schedules/appointment/{appointment.pk}/history/", HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    booked, moved_at, cancelled_at = page.find("Réservé." if language == "fr" else "Booked."), page.find(moved), -1
    assert booked != -1 and moved_at > booked
    cancelled_at = page.find(cancelled, moved_at)
    assert cancelled_at > moved_at
    assert "Julie Roy" in page


def test_a_moves_line_in_the_status_history_gives_the_old_and_the_new_time(client, moved_then_cancelled):
    page = client.get(f"/admin/schedules/appointment/{moved_then_cancelled.pk}/change/").content.decode()
    assert "Déplacé du 3 décembre 2026 à 14\u00a0h\u00a030 au 10 décembre 2026 à 9\u00a0h." in page


def test_another_clinics_staff_cannot_read_an_appointments_story(client, moved_then_cancelled):
    client.force_login(member(make_clinic("Clinique B"), "autre"))
    response = client.get(f"/admin/schedules/appointment/{moved_then_cancelled.pk}/history/")
    assert response.status_code in (302, 404)
    assert "Déplacé" not in response.content.decode()
