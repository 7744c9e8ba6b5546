"""Staff of clinic A try every way the admin offers to reach clinic B's data;
every attempt gets nothing (issue 6, "Who sees what")."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from conftest import TORONTO, book, make_clinic, make_patient, make_professional, make_service, make_slot
from outbox.dispatch import send_due_messages
from outbox.models import Message, Reply
from schedules.access import STAFF_GROUP, SUPPORT_GROUP
from schedules.models import Appointment, Slot, StatusChange

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)


def clinic_with_everything(name: str, surname: str):
    clinic = make_clinic(name)
    professional = make_professional(clinic, last_name=f"Docteur{surname}")
    service = make_service(clinic, name_fr=f"Service{surname}")
    slot = make_slot(professional, service, NOW + timedelta(days=3))
    make_slot(professional, service, NOW + timedelta(days=4))
    patient = make_patient(clinic, last_name=f"Patient{surname}", email=f"{surname.lower()}@example.com")
    appointment = book(slot, patient)
    return appointment


@pytest.fixture
def world():
    with time_machine.travel(NOW, tick=False):
        a = clinic_with_everything("Clinique A", "Alpha")
        b = clinic_with_everything("Clinique B", "Bravo")
        send_due_messages()
        Reply.objects.create(
            channel="sms", number="+15145550111", body="Bravo?", clinic=b.clinic, outcome="not_understood"
        )
        yield a, b


@pytest.fixture
def staff_a(client, world):
    a, _b = world
    user = User.objects.create_user("accueil-a", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    a.clinic.staff.add(user)
    client.force_login(user)
    return client


# (admin URL part, how to get clinic B's object of that model)
MODELS = {
    "schedules/appointment": lambda b: b,
    "schedules/slot": lambda b: b.slot,
    "schedules/professional": lambda b: b.professional,
    "schedules/service": lambda b: b.service,
    "schedules/clinic": lambda b: b.clinic,
    "schedules/statuschange": lambda b: StatusChange.objects.filter(clinic=b.clinic).first(),
    "patients/patient": lambda b: b.patient,
    "outbox/message": lambda b: Message.objects.filter(clinic=b.clinic).first(),
    "outbox/reply": lambda b: Reply.objects.get(clinic=b.clinic),
}


@pytest.mark.parametrize("model", MODELS)
def test_change_lists_show_only_clinic_a(staff_a, world, model):
    a, b = world
    response = staff_a.get(f"/admin/{model}/")
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert MODELS[model](b).pk not in shown
    if model != "outbox/reply":  # clinic A has no reply
        assert MODELS[model](a).pk in shown


@pytest.mark.parametrize("view", ["change", "history", "delete"])
@pytest.mark.parametrize("model", MODELS)
def test_views_by_url_on_clinic_b_give_nothing(staff_a, world, model, view):
    _a, b = world
    target = MODELS[model](b)
    response = staff_a.get(f"/admin/{model}/{target.pk}/{view}/")
    assert response.status_code in (302, 403, 404)
    if response.status_code == 302:
        assert response["Location"] == "/admin/"  # "does not exist" redirect
    assert str(target) not in staff_a.get(response.get("Location", "/admin/")).content.decode()


@pytest.mark.parametrize("model", ["schedules/appointment", "patients/patient", "schedules/slot"])
def test_search_finds_nothing_of_clinic_b(staff_a, world, model):
    response = staff_a.get(f"/admin/{model}/", {"q": "Bravo"})
    assert list(response.context["cl"].result_list) == []


def test_list_filters_offer_only_clinic_a(staff_a, world):
    a, b = world
    make_professional(a.clinic, last_name="Deuxième")  # a filter shows from two choices on
    response = staff_a.get("/admin/schedules/appointment/")
    offered = set()
    for spec in response.context["cl"].filter_specs:
        offered |= {str(choice) for choice in getattr(spec, "lookup_choices", [])}
    assert f"({b.professional.pk}, '{b.professional}')" not in offered
    assert str((a.professional.pk, str(a.professional))) in offered
    assert not any("Clinique B" in choice for choice in offered)


def test_form_choices_offer_only_clinic_a(staff_a, world):
    a, b = world
    form = staff_a.get("/admin/schedules/appointment/add/").context["adminform"].form
    for field, theirs in [
        ("patient", b.patient),
        ("slot", b.slot),
        ("professional", b.professional),
        ("service", b.service),
    ]:
        assert theirs not in form.fields[field].queryset


def test_submitted_ids_of_clinic_b_are_refused(staff_a, world):
    _a, b = world
    other_slot = Slot.objects.filter(professional=b.professional).exclude(pk=b.slot.pk).get()
    response = staff_a.post(
        "/admin/schedules/appointment/add/",
        {"patient": b.patient.pk, "slot": other_slot.pk, "source": "staff",
         "history-TOTAL_FORMS": 0, "history-INITIAL_FORMS": 0, "messages-TOTAL_FORMS": 0, "messages-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert response.status_code == 200
    assert {"patient", "slot"} <= set(response.context["adminform"].form.errors)
    assert not Appointment.objects.filter(slot=other_slot).exists()


@pytest.mark.parametrize("field", ["patient", "slot", "professional", "service"])
def test_autocomplete_offers_nothing_of_clinic_b(staff_a, world, field):
    response = staff_a.get(
        "/admin/autocomplete/",
        {"app_label": "schedules", "model_name": "appointment", "field_name": field, "term": "Bravo"},
    )
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert response.json()["results"] == []


def test_raw_id_popups_show_only_clinic_a(staff_a, world):
    a, b = world
    response = staff_a.get("/admin/patients/patient/", {"_popup": "1", "_to_field": "id"})
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == {a.patient.pk}


def test_actions_do_nothing_to_clinic_b(staff_a, world):
    _a, b = world
    staff_a.post("/admin/schedules/appointment/", {"action": "cancel_appointments", "_selected_action": [b.pk]})
    b.refresh_from_db()
    assert b.status != "cancelled"


@pytest.mark.parametrize("tool", ["copy", "move"])
def test_copy_and_move_refuse_clinic_b(staff_a, world, tool):
    _a, b = world
    assert staff_a.get(f"/admin/schedules/appointment/{b.pk}/{tool}/").status_code == 404


def test_copy_and_move_offer_only_clinic_a_slots(staff_a, world):
    a, b = world
    from backoffice.tests.test_back_office import offered
    from schedules.models import Slot

    opened = staff_a.get(f"/admin/schedules/appointment/{a.pk}/copy/")
    assert f"clinic={a.clinic.pk}" in opened["Location"]
    day = a.clinic.local(NOW + timedelta(days=4)).date().isoformat()  # the clinic's other slot
    query = {"copy": a.pk, "day": day, "clinic": b.clinic.pk}  # asks for clinic B: shown clinic A
    page = staff_a.get("/admin/schedules/agenda/", query).content.decode()
    theirs = set(Slot.objects.filter(professional__clinic=b.clinic).values_list("pk", flat=True))
    assert offered(page) and not offered(page) & theirs
    refused = staff_a.post(f"/admin/schedules/appointment/{a.pk}/copy/", {"slot": next(iter(theirs))})
    assert refused.status_code == 302 and not a.patient.appointments.exclude(pk=a.pk).exists()


def test_slot_tools_refuse_clinic_b(staff_a, world):
    _a, b = world
    series = staff_a.post("/admin/schedules/slot/series/", {"professional": b.professional.pk, "service": b.service.pk,
        "first_day": "2026-12-01", "last_day": "2026-12-01", "weekdays": [1], "day_starts": "09:00", "day_ends": "10:00", "minutes": 30})  # fmt: skip
    assert "professional" in series.context["form"].errors
    close = staff_a.post(
        "/admin/schedules/slot/close/",
        {"clinic": b.clinic.pk, "professional": b.professional.pk, "first_day": "2026-11-20", "last_day": "2026-12-31"},
    )
    assert {"clinic", "professional"} <= set(close.context["form"].errors)
    assert Slot.objects.filter(professional=b.professional).count() == 2


def test_the_start_page_shows_only_clinic_a(staff_a, world):
    _a, b = world
    with time_machine.travel(b.start - timedelta(hours=2), tick=False):
        page = staff_a.get("/admin/").content.decode()
    assert "PatientBravo" not in page and "Bravo?" not in page


def test_staff_read_services_but_cannot_change_them(staff_a, world):
    a, _b = world
    assert staff_a.get(f"/admin/schedules/service/{a.service.pk}/change/").status_code == 200
    staff_a.post(
        f"/admin/schedules/service/{a.service.pk}/change/",
        {"name_fr": "Changé", "name_en": "x", "category": "none", "clinic": a.clinic.pk},
    )
    a.service.refresh_from_db()
    assert a.service.name_fr != "Changé"


def test_support_sees_and_configures_every_clinic(client, world):
    _a, b = world
    user = User.objects.create_user("soutien", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    client.force_login(user)
    assert b.pk in {row.pk for row in client.get("/admin/schedules/appointment/").context["cl"].result_list}
    response = client.post(
        f"/admin/schedules/service/{b.service.pk}/change/",
        {
            "clinic": b.clinic.pk,
            "name_fr": "Suivi",
            "name_en": "Follow-up",
            "category": "phone",
            "cancellation_delay": "120",  # minutes: "2 h"
            "online_booking_notice": "120",
            "online_booking_horizon": str(60 * 24 * 60),
        },
    )
    assert response.status_code == 302
    b.service.refresh_from_db()
    assert (b.service.category, b.service.cancellation_delay) == ("phone", timedelta(hours=2))


def test_a_slot_holding_an_appointment_keeps_its_professional_and_times(world):
    a, _b = world
    from django.core.exceptions import ValidationError

    slot = a.slot
    slot.start += timedelta(hours=1)
    slot.end += timedelta(hours=1)
    with pytest.raises(ValidationError, match="déplacez-le ou annulez-le"):
        slot.save()


@pytest.mark.parametrize("row", ["professional", "service", "patient"])
def test_rows_never_move_to_another_clinic(world, row):
    a, b = world
    from django.core.exceptions import ValidationError

    target = getattr(a, row)
    target.clinic = b.clinic
    with pytest.raises(ValidationError):
        target.save()
