"""What staff do when things go wrong (issue 9, D15–D17): send a failed or
outcome-unknown message again, saves from a stale view refused, bad input
answered with a form error or a 4xx."""

import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from backoffice.admin_forms import view_of
from backoffice.tests.test_back_office import form_data
from confirmations import links
from conftest import TORONTO, RecordingChannel, book, make_slot, postgres_only
from outbox.dispatch import send_due_messages
from outbox.models import Message
from outbox.outcomes import UNKNOWN, TransportError
from schedules.access import STAFF_GROUP
from schedules.models import Appointment, StaleAppointment

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff_user(clinic):
    user = User.objects.create_user("accueil", password="x", is_staff=True, first_name="Lise", last_name="Caron")
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    return user


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def unknown(slot, patient, channel_calls):
    """A confirmation whose outcome is unknown (the provider may have it)."""
    RecordingChannel.failures = [TransportError("no answer after the request was sent", UNKNOWN)]
    appointment = book(slot, patient)
    send_due_messages()
    message = Message.objects.get(appointment=appointment, kind="confirmation")
    assert message.state == "unknown"
    return message


def send_again_url(message) -> str:
    return f"/admin/outbox/message/{message.pk}/send-again/"


class TestSendAgain:
    def test_the_message_page_offers_it_and_asks_first(self, staff, unknown):
        page = staff.get(f"/admin/outbox/message/{unknown.pk}/change/")
        assert send_again_url(unknown) in page.content.decode()
        question = staff.get(send_again_url(unknown))
        assert question.status_code == 200
        assert "le patient l’a peut-être déjà" in question.content.decode()
        assert Message.objects.count() == 2  # the confirmation and the reminder: nothing new on GET

    def test_d15_staff_send_it_again_once_and_the_history_names_them(self, staff, unknown, channel_calls):
        response = staff.post(send_again_url(unknown))
        again = Message.objects.get(resend_of=unknown)
        assert response.status_code == 302 and response["Location"].endswith(f"/{again.pk}/change/")
        assert (again.kind, again.state, again.resent_by.username) == ("confirmation", "pending", "accueil")
        line = unknown.appointment.history.last()
        assert (line.actor, line.user.username) == ("staff", "accueil")
        assert line.text == "Confirmation\u00a0: nouvel envoi à la main (état précédent\u00a0: résultat inconnu)."
        send_due_messages()
        again.refresh_from_db()
        assert again.state == "sent"
        assert len(channel_calls) == 1

    def test_a_double_click_sends_it_again_only_once(self, staff, unknown):
        staff.post(send_again_url(unknown))
        second = staff.post(send_again_url(unknown), follow=True)
        assert Message.objects.filter(resend_of=unknown).count() == 1
        assert "ne peut pas être renvoyé" in second.content.decode()

    def test_the_database_refuses_a_second_resend_of_the_same_message(self, staff_user, unknown):
        from outbox.dispatch import send_again

        assert send_again(unknown, staff_user) is not None
        assert send_again(unknown, staff_user) is None
        assert Message.objects.filter(resend_of=unknown).count() == 1

    def test_a_sent_message_cannot_be_sent_again(self, staff, slot, patient, channel_calls):
        appointment = book(slot, patient)
        send_due_messages()
        sent = Message.objects.get(appointment=appointment, kind="confirmation")
        staff.post(send_again_url(sent))
        assert not Message.objects.filter(resend_of=sent).exists()

    def test_a_message_sent_again_is_rechecked_and_withdrawn_when_no_longer_true(self, staff, unknown, clock):
        staff.post(send_again_url(unknown))
        clock.move_to(unknown.planned_start + timedelta(minutes=1))
        send_due_messages()
        assert Message.objects.get(resend_of=unknown).state == "withdrawn"

    def test_staff_of_another_clinic_cannot_reach_it(self, client, unknown):
        from conftest import make_clinic

        other = User.objects.create_user("autre", password="x", is_staff=True)
        other.groups.add(Group.objects.get(name=STAFF_GROUP))
        make_clinic("Autre clinique").staff.add(other)
        client.force_login(other)
        assert client.post(send_again_url(unknown)).status_code == 404
        assert not Message.objects.filter(resend_of=unknown).exists()


def new_booking(slot, patient) -> dict:
    """The add form's data for `patient` at `slot`'s professional, service and times."""
    return form_data(
        Appointment(
            patient=patient, professional=slot.professional, service=slot.service, start=slot.start, end=slot.end
        )
    )


def patient_cancels(client, appointment) -> None:
    """The patient clicks Cancel in the email, on the real page."""
    url = links.url_for(appointment.public_id, appointment.patient.public_id, links.CANCEL, "fr")
    response = Client().post(url.removeprefix(settings.HUB_PUBLIC_URL))
    assert response.status_code == 302


class TestStaleSaves:
    """D17: a change made from a stale view is refused; the patient's stands."""

    def test_a_form_opened_before_the_patients_cancellation_is_refused_with_a_reload_request(
        self, staff, slot, patient, channel_calls
    ):
        appointment = book(slot, patient)
        page = staff.get(f"/admin/schedules/appointment/{appointment.pk}/change/").content.decode()
        opened = view_of(appointment)
        assert f'name="opened_view" value="{opened}"' in page
        patient_cancels(staff, appointment)
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, notes="appelé", opened_view=view_of(appointment)),
        )
        assert response.status_code == 200
        assert "a été modifié après l’ouverture de cette page" in response.content.decode()
        appointment.refresh_from_db()
        assert (appointment.status, appointment.notes) == ("cancelled", "")
        kinds = sorted(Message.objects.filter(appointment=appointment).values_list("kind", "state"))
        assert kinds == [("cancellation", "pending"), ("confirmation", "withdrawn"), ("reminder", "withdrawn")]

    def test_a_form_opened_before_the_hub_noted_the_confirmation_still_saves(self, staff, slot, patient, channel_calls):
        appointment = book(slot, patient)
        opened = view_of(appointment)
        send_due_messages()  # the Hub notes "Confirmation sent" on it meanwhile
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, notes="appelé", opened_view=opened),
        )
        assert response.status_code == 302
        appointment.refresh_from_db()
        assert (appointment.notes, appointment.status) == ("appelé", "sent_email")

    def test_a_form_opened_on_the_current_version_saves(self, staff, slot, patient):
        appointment = book(slot, patient)
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, notes="appelé", opened_view=view_of(appointment)),
        )
        assert response.status_code == 302
        appointment.refresh_from_db()
        assert (appointment.notes, appointment.version) == ("appelé", 2)

    def test_in_code_a_save_from_a_stale_read_raises_and_changes_nothing(self, slot, patient, client):
        appointment = book(slot, patient)
        held = Appointment.objects.get(pk=appointment.pk)  # staff code loaded it earlier
        patient_cancels(client, appointment)
        held.notes = "appelé"
        with pytest.raises(StaleAppointment):
            held.save()
        appointment.refresh_from_db()
        assert (appointment.status, appointment.notes) == ("cancelled", "")
        assert list(Message.objects.filter(appointment=appointment).values_list("kind", "state").order_by("kind")) == [
            ("cancellation", "pending"),
            ("confirmation", "withdrawn"),
            ("reminder", "withdrawn"),
        ]

    def test_the_cancel_action_refuses_an_appointment_changed_after_it_was_read(
        self, staff, slot, patient, monkeypatch
    ):
        from backoffice import appointment_admin

        appointment = book(slot, patient)
        original = appointment_admin.AppointmentAdmin.cancel_appointments

        class StaffsEarlierRead(list):
            def exclude(self, **kwargs):
                return self

        def patient_confirms_after_the_read(self, request, queryset):
            rows = StaffsEarlierRead(queryset)  # staff's read of the rows
            fresh = Appointment.objects.get(pk=appointment.pk)
            fresh.status = "confirmed_email"
            fresh.save(update_fields=["status"])
            return original(self, request, rows)

        monkeypatch.setattr(appointment_admin.AppointmentAdmin, "cancel_appointments", patient_confirms_after_the_read)
        response = staff.post(
            "/admin/schedules/appointment/",
            {"action": "cancel_appointments", "_selected_action": [appointment.pk]},
            follow=True,
        )
        appointment.refresh_from_db()
        assert appointment.status == "confirmed_email"  # the patient's confirmation stands
        assert "1 rendez-vous a changé entre-temps" in response.content.decode()


@pytest.mark.django_db(transaction=True)
class TestStaleSavesRacing:
    """Two database connections: the patient's click commits while the
    staff member's save is under way (PostgreSQL; CI runs it)."""

    def test_a_change_landing_between_the_forms_check_and_the_save_is_refused_too(
        self, staff, slot, patient, monkeypatch
    ):
        from backoffice.appointment_admin import AppointmentAdmin

        postgres_only(connection)
        appointment = book(slot, patient)
        original = AppointmentAdmin.save_model

        def patient_cancels_just_before(self, request, obj, form, change):
            # The patient's request runs on its own connection and commits.
            errors = []
            thread = threading.Thread(target=lambda: _in_thread(errors, patient_cancels, None, appointment))
            thread.start()
            thread.join()
            assert errors == []
            return original(self, request, obj, form, change)

        monkeypatch.setattr(AppointmentAdmin, "save_model", patient_cancels_just_before)
        url = f"/admin/schedules/appointment/{appointment.pk}/change/"
        response = staff.post(url, form_data(appointment, notes="appelé", opened_view=view_of(appointment)))
        assert (response.status_code, response["Location"]) == (302, url)
        assert "a été modifié après l’ouverture de cette page" in staff.get(url).content.decode()
        appointment.refresh_from_db()
        assert (appointment.status, appointment.notes) == ("cancelled", "")


def _in_thread(errors: list, function, *args) -> None:
    try:
        function(*args)
    except Exception as error:  # reported by the caller: a thread cannot fail a test
        errors.append(error)
    finally:
        connection.close()


class TestTimesAndSlots:
    def test_d16_new_times_past_the_slot_warn_that_it_leaves_the_slot(self, staff, slot, patient):
        appointment = book(slot, patient)
        later = (appointment.start + timedelta(hours=1)).astimezone(TORONTO)
        data = form_data(
            appointment,
            opened_view=view_of(appointment),
            start_1=later.strftime("%H:%M"),
            end_1=(later + timedelta(minutes=30)).strftime("%H:%M"),
        )
        response = staff.post(f"/admin/schedules/appointment/{appointment.pk}/change/", data)
        assert response.status_code == 200
        assert "Hors de toute plage horaire, le rendez-vous n’est plus traité par le Hub" in response.content.decode()
        appointment.refresh_from_db()
        assert appointment.slot == slot
        response = staff.post(f"/admin/schedules/appointment/{appointment.pk}/change/", {**data, "acknowledge": "on"})
        assert response.status_code == 302
        appointment.refresh_from_db()
        assert (appointment.slot, appointment.start) == (None, later)

    def test_d16_booking_over_another_appointment_is_a_form_error(self, staff, slot, patient, clinic):
        book(slot, patient)
        local = slot.start.astimezone(TORONTO)
        response = staff.post(
            "/admin/schedules/appointment/add/",
            {
                **new_booking(slot, patient),
                "slot": "",
                "start_1": (local + timedelta(minutes=15)).strftime("%H:%M"),
                "end_1": (local + timedelta(minutes=45)).strftime("%H:%M"),
            },
        )
        assert response.status_code == 200
        assert "a déjà un rendez-vous à cette heure" in response.content.decode()
        assert Appointment.objects.count() == 1


class TestBadInput:
    """Malformed ids and extreme dates get a form error or a 4xx, never a 500."""

    @pytest.mark.parametrize("slot_id", ["abc", "12345678901234567890123", "-1", "1.5", ""])
    def test_booking_from_a_malformed_slot_id_shows_an_empty_form(self, staff, slot_id):
        response = staff.get(f"/admin/schedules/appointment/add/?slot={slot_id}")
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "path", ["12345678901234567890123/change/", "12345678901234567890123/copy/", "abc/change/"]
    )
    def test_an_out_of_range_appointment_id_is_not_found(self, staff, path):
        response = staff.get(f"/admin/schedules/appointment/{path}")
        assert response.status_code in (302, 404)

    def test_an_out_of_range_message_id_is_not_found(self, staff):
        assert staff.get("/admin/outbox/message/12345678901234567890123/send-again/").status_code == 404

    @pytest.mark.parametrize("last_day", ["9999-12-31", "0001-01-01"])
    def test_a_series_at_the_end_of_time_is_a_form_error(self, staff, professional, service, last_day):
        response = staff.post("/admin/schedules/slot/series/", {"professional": professional.pk, "service": service.pk,
            "first_day": "9999-12-01", "last_day": last_day, "weekdays": [0, 2], "day_starts": "09:00", "day_ends": "10:30", "minutes": 30})  # fmt: skip
        assert response.status_code == 200
        assert "errornote" in response.content.decode() or "errorlist" in response.content.decode()

    @pytest.mark.parametrize(("first_day", "last_day"), [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-01")])
    def test_closing_a_day_at_the_end_of_time_is_a_form_error(self, staff, professional, first_day, last_day):
        response = staff.post(
            "/admin/schedules/slot/close/",
            {
                "clinic": professional.clinic_id,
                "professional": professional.pk,
                "first_day": first_day,
                "last_day": last_day,
            },
        )
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()

    @pytest.mark.parametrize(
        "query", ["start__gte=9999-99-99", "start__gte=abc", "due_at__day=99", "slot__id__exact=abc"]
    )
    def test_list_filters_with_nonsense_do_not_fail(self, staff, query):
        response = staff.get(f"/admin/schedules/appointment/?{query}")
        assert response.status_code in (200, 302)

    @pytest.mark.parametrize(
        ("day", "start", "end"), [("9999-12-31", "23:00", "23:30"), ("0001-01-01", "00:00", "00:30")]
    )
    def test_an_appointment_at_the_ends_of_the_calendar_is_a_form_error_or_saved(
        self, staff, professional, service, patient, day, start, end
    ):
        data = {
            **form_data(Appointment(patient=patient, professional=professional, service=service, start=NOW, end=NOW)),
            "start_0": day,
            "start_1": start,
            "end_0": day,
            "end_1": end,
        }
        response = staff.post("/admin/schedules/appointment/add/", data)
        assert response.status_code in (200, 302)

    def test_a_slot_at_the_end_of_the_calendar_is_a_form_error(self, staff, professional, service):
        response = staff.post(
            "/admin/schedules/slot/add/",
            {"professional": professional.pk, "service": service.pk, "start_0": "9999-12-31", "start_1": "23:00",
             "end_0": "9999-12-31", "end_1": "23:30"},
        )  # fmt: skip
        assert response.status_code == 200
        assert "Choisissez une date entre" in response.content.decode()


class TestStartPage:
    def test_an_outcome_unknown_message_shows_until_it_is_sent_again(self, staff, unknown):
        page = staff.get("/admin/").content.decode()
        assert "résultat inconnu" in page and f"/admin/outbox/message/{unknown.pk}/change/" in page
        staff.post(send_again_url(unknown))
        page = staff.get("/admin/").content.decode()
        assert f"/admin/outbox/message/{unknown.pk}/change/" not in page


class TestBookingWithinSlots:
    def test_d16_a_new_booking_past_its_slots_times_is_a_form_error(self, staff, slot, patient):
        local = slot.start.astimezone(TORONTO)
        data = {
            **new_booking(slot, patient),
            "slot": slot.pk,
            "end_1": (local + timedelta(minutes=45)).strftime("%H:%M"),
        }
        response = staff.post("/admin/schedules/appointment/add/", data)
        assert response.status_code == 200
        assert "reste dans les heures de sa plage" in response.content.decode()
        assert not Appointment.objects.exists()

    def test_d16_move_offers_no_slot_overlapping_another_appointment(self, staff, slot, patient, professional, service):
        appointment = book(slot, patient)
        later = make_slot(professional, service, slot.start + timedelta(hours=2))
        book(None, patient, professional=professional, service=service, start=later.start, end=later.end)
        free = make_slot(professional, service, slot.start + timedelta(hours=3))
        page = staff.get(f"/admin/schedules/appointment/{appointment.pk}/move/", follow=True).content.decode()
        assert f'name="slot" value="{free.pk}"' in page and f'name="slot" value="{later.pk}"' not in page
        response = staff.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": later.pk}, follow=True)
        assert "no longer free" in response.content.decode() or "n’est plus libre" in response.content.decode()
        appointment.refresh_from_db()
        assert appointment.slot == slot


class TestMoreBadInput:
    @pytest.mark.parametrize("path", ["appointment/add/?start=abc", "appointment/add/?end=9999-99-99", "slot/add/?start=abc",
                                      "appointment/add/?patient=abc", "slot/add/?professional=1.5"])  # fmt: skip
    def test_nonsense_prefills_are_ignored(self, staff, path):
        assert staff.get(f"/admin/schedules/{path}").status_code == 200

    @pytest.mark.parametrize("query", ["start__year=9999", "start__year=9999&start__month=12", "start__gte=9999-12-31",
        "start__lt=0001-01-01", "start__year=0", "start__year=abc"])  # fmt: skip
    # A raw date in the URL is naive: Django warns and reads it in the
    # current time zone (the warning is an error elsewhere in the tests).
    @pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning")
    def test_list_dates_at_the_ends_of_the_calendar_do_not_fail(self, staff, query):
        assert staff.get(f"/admin/schedules/appointment/?{query}").status_code in (200, 302)

    @pytest.mark.parametrize("query", ["due_at__year=9999", "due_at__gte=9999-12-31"])
    @pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning")
    def test_message_list_dates_at_the_end_of_the_calendar_do_not_fail(self, staff, query):
        assert staff.get(f"/admin/outbox/message/?{query}").status_code in (200, 302)
