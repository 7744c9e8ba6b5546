"""Every model is in the admin, and staff see only their clinic (issue 2;
the full isolation suite comes with the back office, issue 6)."""

from datetime import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from conftest import TORONTO, book, make_clinic, make_patient, make_professional, make_service, make_slot
from schedules.access import STAFF_GROUP, visible_to
from schedules.models import Appointment, Slot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

MODELS = [
    "schedules/clinic",
    "schedules/professional",
    "schedules/service",
    "schedules/slot",
    "schedules/appointment",
    "schedules/statuschange",
    "patients/patient",
    "outbox/message",
]


@pytest.fixture
def two_clinics(slot, patient):
    """Clinic A (the fixtures') with one appointment, and clinic B with one."""
    clinic_b = make_clinic("Clinique B")
    slot_b = make_slot(make_professional(clinic_b, last_name="Bégin"), make_service(clinic_b), slot.start)
    return book(slot, patient), book(slot_b, make_patient(clinic_b, last_name="Bélanger"))


def staff_of(clinic) -> User:
    user = User.objects.create_user("accueil", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    return user


@pytest.mark.parametrize("model", MODELS)
def test_each_model_has_a_working_list_for_the_superuser(admin_client, two_clinics, model):
    response = admin_client.get(f"/admin/{model}/", {"q": "B"})
    assert response.status_code == 200


def test_the_appointment_list_shows_status_and_the_latest_communication_in_the_readers_language(
    admin_client, two_clinics
):
    mine, _theirs = two_clinics
    sent = {"kind": "latest", "channel": "sms", "to": "+15145550204", "at": "2026-12-01T14:00:00+00:00"}
    Appointment.note_communication(mine.pk, mine.patient_id, sent, "sent_sms")
    page = admin_client.get(reverse("admin:schedules_appointment_changelist")).content.decode()
    assert "Envoyé par texto le 1er décembre 2026 à 9\u00a0h à (514) 555-0204" in page
    page = admin_client.get(reverse("admin:schedules_appointment_changelist"), HTTP_ACCEPT_LANGUAGE="en").content
    assert "Sent by SMS on December 1, 2026 at 9:00 AM to (514) 555-0204" in page.decode()


def test_staff_see_only_their_clinics_appointments(client, two_clinics):
    mine, theirs = two_clinics
    client.force_login(staff_of(mine.clinic))
    page = client.get(reverse("admin:schedules_appointment_changelist")).content.decode()
    assert str(mine.patient) in page
    assert str(theirs.patient) not in page
    other = client.get(reverse("admin:schedules_appointment_change", args=[theirs.pk]))
    assert other.status_code == 302  # "does not exist" redirect, no content


def test_staff_choose_only_their_clinics_slots_and_patients(client, two_clinics):
    mine, theirs = two_clinics
    client.force_login(staff_of(mine.clinic))
    form = client.get(reverse("admin:schedules_appointment_add")).context["adminform"].form
    assert set(form.fields["slot"].queryset) == {mine.slot}
    assert set(form.fields["patient"].queryset) == {mine.patient}


def test_visible_to_gives_nothing_to_an_inactive_user(two_clinics):
    user = staff_of(two_clinics[0].clinic)
    user.is_active = False
    assert not visible_to(Slot.objects.all(), user).exists()


def test_a_booking_in_the_admin_names_the_staff_member_in_the_history(client, slot, patient):
    user = staff_of(slot.professional.clinic)
    client.force_login(user)
    response = client.post(
        reverse("admin:schedules_appointment_add"),
        {
            "patient": patient.pk,
            "professional": slot.professional.pk,
            "slot": slot.pk,
            "service": slot.service.pk,
            "start_0": "2026-12-03",
            "start_1": "14:30",
            "end_0": "2026-12-03",
            "end_1": "15:00",
            "source": "staff",
            "history-TOTAL_FORMS": 0,
            "history-INITIAL_FORMS": 0,
            "messages-TOTAL_FORMS": 0,
            "messages-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    line = slot.appointments.get().history.get()
    assert (line.actor, line.user) == ("staff", user)


def test_the_form_says_why_the_hub_sends_nothing(admin_client, clinic, patient, service):
    specialist_slot = make_slot(
        make_professional(clinic, kind="specialist"), service, datetime(2026, 12, 3, 9, 0, tzinfo=TORONTO)
    )
    appointment = book(specialist_slot, patient)
    page = admin_client.get(reverse("admin:schedules_appointment_change", args=[appointment.pk])).content.decode()
    assert "type de professionnel non pris en charge par le Hub" in page


class TestReadableValues:
    """Durations, numbers and names as the reader writes them (issue 11)."""

    def test_the_cancellation_delay_reads_and_is_chosen_as_people_say_it(self, admin_client, clinic):
        from datetime import timedelta

        from conftest import make_service

        service = make_service(clinic, cancellation_delay=timedelta(hours=48))
        make_service(clinic, name_fr="Sans annulation", cancellation_delay=None)
        page = admin_client.get("/admin/schedules/service/").content.decode()
        assert "jusqu’à 2\u00a0jours avant" in page and "non offerte" in page and "2 days, 0:00:00" not in page
        form = admin_client.get(f"/admin/schedules/service/{service.pk}/change/").content.decode()
        assert '<option value="2880" selected>2\u00a0jours</option>' in form
        assert '<option value="1440">24\u00a0h</option>' in form
        english = admin_client.get("/admin/schedules/service/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "until 2 days before" in english

    def test_numbers_are_listed_in_national_form(self, admin_client, clinic):
        make_patient(clinic, mobile="+15145550111")
        page = admin_client.get("/admin/patients/patient/").content.decode()
        assert "(514) 555-0111" in page and "+15145550111" not in page

    def test_service_names_in_the_readers_language(self, admin_client, slot, patient):
        appointment = book(slot, patient)
        service = appointment.service
        service.name_fr, service.name_en = "Consultation", "Visit"
        service.save()
        assert "Consultation" in admin_client.get("/admin/schedules/appointment/").content.decode()
        english = admin_client.get("/admin/schedules/appointment/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Visit" in english and "Consultation" not in english

    @pytest.mark.parametrize(("delay", "shown"), [(36 * 60, "36\u00a0h"), (90, "90\u00a0min"), (30, "30\u00a0min")])
    def test_a_delay_set_before_is_kept_by_the_next_save(self, admin_client, clinic, delay, shown):
        from datetime import timedelta

        from conftest import make_service

        service = make_service(clinic, cancellation_delay=timedelta(minutes=delay))
        form = admin_client.get(f"/admin/schedules/service/{service.pk}/change/").content.decode()
        assert f'<option value="{delay}" selected>{shown}</option>' in form
        data = {"clinic": clinic.pk, "name_fr": "A", "name_en": "A", "category": "phone", "cancellation_delay": delay}
        data |= {"online_booking_notice": "120", "online_booking_horizon": str(60 * 24 * 60)}  # as the form offers
        assert admin_client.post(f"/admin/schedules/service/{service.pk}/change/", data).status_code == 302
        service.refresh_from_db()
        assert service.cancellation_delay == timedelta(minutes=delay)

    def test_staff_read_the_delay_as_people_say_it(self, client, clinic):
        from datetime import timedelta

        from conftest import make_service

        service = make_service(clinic, cancellation_delay=timedelta(hours=24))
        client.force_login(staff_of(clinic))
        page = client.get(f"/admin/schedules/service/{service.pk}/change/").content.decode()
        assert "jusqu’à 24\u00a0h avant" in page and "1 day" not in page and "1 jour," not in page


@pytest.mark.parametrize(
    "old, new",
    [
        ("/admin/confirmations/message/?state__exact=failed", "/admin/outbox/message/?state__exact=failed"),
        ("/admin/confirmations/reply/", "/admin/outbox/reply/"),
        ("/admin/confirmations/optout/", "/admin/outbox/optout/"),
    ],
)
def test_bookmarks_of_the_message_lists_from_before_the_outbox_app_still_lead_there(admin_client, old, new):
    response = admin_client.get(old)
    assert (response.status_code, response["Location"]) == (301, new)
    assert admin_client.get(new).status_code == 200
