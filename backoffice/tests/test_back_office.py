"""The back office's FAQ behaviours, actions and slot tools (issue 6;
SPEC R7, R16–R18, D6, D12–D14), and change lists that stay fast."""

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import TORONTO, book, make_patient, make_service, make_slot
from outbox.models import Message
from schedules.models import Appointment, Slot

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)
EMPTY_INLINES = {
    "history-TOTAL_FORMS": 0,
    "history-INITIAL_FORMS": 0,
    "messages-TOTAL_FORMS": 0,
    "messages-INITIAL_FORMS": 0,
}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def form_data(appointment: Appointment, **changes) -> dict:
    local = appointment.start.astimezone(TORONTO), appointment.end.astimezone(TORONTO)
    data = {
        "patient": appointment.patient_id,
        "slot": appointment.slot_id or "",
        "professional": appointment.professional_id,
        "service": appointment.service_id,
        "start_0": local[0].strftime("%Y-%m-%d"),
        "start_1": local[0].strftime("%H:%M"),
        "end_0": local[1].strftime("%Y-%m-%d"),
        "end_1": local[1].strftime("%H:%M"),
        "source": appointment.source,
        "notes": appointment.notes,
        **EMPTY_INLINES,
    }
    data.update(changes)
    return data


class TestBooking:
    def test_r7_booking_from_a_slot_prefills_it(self, staff, slot):
        form = staff.get(f"/admin/schedules/appointment/add/?slot={slot.pk}").context["adminform"].form
        assert (form.initial["slot"], form.initial["professional"], form.initial["service"]) == (
            slot.pk,
            slot.professional_id,
            slot.service_id,
        )
        assert form.initial["start"] == slot.start

    def test_r7_a_slot_and_a_patient_are_enough_to_book(self, staff, slot, patient):
        response = staff.post(
            "/admin/schedules/appointment/add/",
            {"patient": patient.pk, "slot": slot.pk, "source": "staff", **EMPTY_INLINES},
        )
        assert response.status_code == 302
        appointment = Appointment.objects.get()
        assert (appointment.service, appointment.start, appointment.professional) == (
            slot.service,
            slot.start,
            slot.professional,
        )
        assert [m.kind for m in appointment.messages.order_by("due_at")] == ["confirmation", "reminder"]

    def test_r7_a_service_chosen_at_booking_wins(self, staff, slot, patient, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        staff.post(
            "/admin/schedules/appointment/add/",
            {"patient": patient.pk, "slot": slot.pk, "service": phone.pk, "source": "staff", **EMPTY_INLINES},
        )
        assert Appointment.objects.get().service == phone


class TestWarningsBeforeSaving:
    @pytest.fixture
    def appointment(self, slot, patient):
        return book(slot, patient)

    def test_d6_changing_the_service_warns_that_the_patient_is_not_told(self, staff, appointment, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/", form_data(appointment, service=phone.pk)
        )
        assert response.status_code == 200
        assert "Le patient ne sera pas avisé du changement de service." in response.content.decode()
        appointment.refresh_from_db()
        assert appointment.service != phone
        confirmed = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, service=phone.pk, acknowledge="on"),
        )
        assert confirmed.status_code == 302
        appointment.refresh_from_db()
        assert appointment.service == phone

    def test_d12_moving_out_of_the_slot_warns_that_the_patient_will_hear_nothing(self, staff, appointment):
        response = staff.post(f"/admin/schedules/appointment/{appointment.pk}/change/", form_data(appointment, slot=""))
        assert "le patient ne recevra plus rien (aucune annulation n’est envoyée)" in response.content.decode()
        assert Appointment.objects.get().slot_id is not None

    def test_d13_changing_the_patient_warns_of_the_cancellation(self, staff, appointment, clinic):
        anne = make_patient(clinic, first_name="Anne", email="anne@example.com")
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/", form_data(appointment, patient=anne.pk)
        )
        assert (
            "L’ancien patient recevra une annulation, et le nouveau patient une confirmation."
            in response.content.decode()
        )
        staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, patient=anne.pk, acknowledge="on"),
        )
        assert Message.objects.filter(kind="cancellation", patient=appointment.patient).exists()

    def test_the_save_anyway_box_appears_only_with_a_warning(self, staff, appointment, clinic):
        url = f"/admin/schedules/appointment/{appointment.pk}/change/"
        box = 'type="checkbox" name="acknowledge"'
        assert box not in staff.get(url).content.decode()
        refused = staff.post(url, form_data(appointment, end_1="99:99")).content.decode()  # a typing mistake
        assert "errornote" in refused and box not in refused
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        warned = staff.post(url, form_data(appointment, service=phone.pk)).content.decode()
        assert box in warned and "J’ai lu les avertissements" in warned

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_one_date_style_per_language_on_the_appointment_form(self, staff, appointment, language):
        page = staff.get(
            f"/admin/schedules/appointment/{appointment.pk}/change/", HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()
        assert 'name="start_0" value="2026-12-03"' in page
        assert "2026-11-23" in page  # created, in the same style
        assert "03/12/2026" not in page and "12/03/2026" not in page

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_a_date_typed_in_the_forms_own_style_is_read_back_the_same(self, staff, appointment, language):
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, notes="Apporter les résultats", start_0="2026-12-03", end_0="2026-12-03"),
            HTTP_ACCEPT_LANGUAGE=language,
        )
        assert response.status_code == 302

    def test_an_ordinary_change_saves_without_a_warning(self, staff, appointment):
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/change/",
            form_data(appointment, notes="Apporter les résultats"),
        )
        assert response.status_code == 302

    def test_the_form_shows_history_messages_and_why_nothing_is_sent(self, staff, appointment):
        page = staff.get(f"/admin/schedules/appointment/{appointment.pk}/change/").content.decode()
        assert "Réservé." in page  # the status history
        assert "rappel" in page and "en attente" in page  # the messages: the pending reminder
        assert "pris en charge par le Hub" in page  # D1: handled by the Hub


class TestActions:
    def test_r18_the_cancel_action_sends_the_notice(self, staff, slot, patient):
        appointment = book(slot, patient)
        staff.post(
            "/admin/schedules/appointment/", {"action": "cancel_appointments", "_selected_action": [appointment.pk]}
        )
        appointment.refresh_from_db()
        assert appointment.status == "cancelled"
        assert Message.objects.filter(kind="cancellation").exists()
        assert appointment.history.last().user.username == "accueil"

    def test_r17_copy_to_another_slot_keeps_the_original_service(self, staff, slot, patient, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        original = book(slot, patient, service=phone)
        other = make_slot(slot.professional, slot.service, slot.start + timedelta(days=7))
        opened = staff.get(f"/admin/schedules/appointment/{original.pk}/copy/")  # the agenda, to pick the slot
        assert opened.status_code == 302 and f"copy={original.pk}" in opened["Location"]
        assert offered(staff.get(opened["Location"]).content.decode()) == set()  # its own slot is not free
        page = staff.get("/admin/schedules/agenda/", {"copy": original.pk, "day": "2026-12-10"}).content.decode()
        assert offered(page) == {other.pk}
        staff.post(f"/admin/schedules/appointment/{original.pk}/copy/", {"slot": other.pk, "acknowledge": "1"})
        copy = Appointment.objects.get(slot=other)
        assert copy.service == phone and copy.pk != original.pk

    def test_a_moves_history_line_gives_the_old_and_the_new_time_first(self, slot, patient):
        appointment = book(slot, patient)
        appointment.move_to(make_slot(slot.professional, slot.service, slot.start + timedelta(days=7, hours=-5)))
        line = appointment.history.last()
        assert line.events[0]["kind"] == "moved"
        assert line.text.startswith(
            "Déplacé du 3 décembre 2026 à 14\u00a0h\u00a030 au 10 décembre 2026 à 9\u00a0h\u00a030."
        )
        appointment.notes = "Apporter les résultats"
        appointment.save()
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        assert [line.events[0]["kind"] for line in appointment.history.all()].count("moved") == 1

    def test_r17_move_to_another_slot_keeps_the_service_and_tells_the_patient(self, staff, slot, patient, clinic):
        phone = make_service(clinic, category="phone", name_fr="Téléphone")
        appointment = book(slot, patient, service=phone)
        other = make_slot(slot.professional, slot.service, slot.start + timedelta(days=7))
        staff.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": other.pk, "acknowledge": "1"})
        appointment.refresh_from_db()
        assert (appointment.slot, appointment.start, appointment.service) == (other, other.start, phone)
        assert appointment.messages.filter(kind="modification").exists()


class TestSlotTools:
    def test_a_series_of_slots_in_one_go(self, staff, professional, service):
        response = staff.post("/admin/schedules/slot/series/", {"professional": professional.pk, "service": service.pk,
            "first_day": "2026-11-30", "last_day": "2026-12-06", "weekdays": [0, 2], "day_starts": "09:00", "day_ends": "10:30", "minutes": 30})  # fmt: skip
        assert response.status_code == 302
        starts = sorted(slot.start.astimezone(TORONTO).strftime("%a %d %H:%M") for slot in Slot.objects.all())
        assert starts == [
            "Mon 30 09:00",
            "Mon 30 09:30",
            "Mon 30 10:00",
            "Wed 02 09:00",
            "Wed 02 09:30",
            "Wed 02 10:00",
        ]

    def test_a_series_twice_creates_nothing_more(self, staff, professional, service):
        data = {"professional": professional.pk, "service": service.pk, "first_day": "2026-11-30", "last_day": "2026-11-30",
                "weekdays": [0], "day_starts": "09:00", "day_ends": "10:00", "minutes": 30}  # fmt: skip
        staff.post("/admin/schedules/slot/series/", data)
        staff.post("/admin/schedules/slot/series/", data)
        assert Slot.objects.count() == 2

    def test_closing_a_free_day_deletes_its_slots(self, staff, professional, service):
        make_slot(professional, service, datetime(2026, 12, 1, 9, 0, tzinfo=TORONTO))
        kept = make_slot(professional, service, datetime(2026, 12, 2, 9, 0, tzinfo=TORONTO))
        staff.post(
            "/admin/schedules/slot/close/",
            {
                "clinic": professional.clinic_id,
                "professional": professional.pk,
                "first_day": "2026-12-01",
                "last_day": "2026-12-01",
            },
        )
        assert list(Slot.objects.all()) == [kept]

    def test_d14_closing_a_range_with_active_appointments_is_refused_with_their_list(self, staff, slot, patient):
        appointment = book(slot, patient)
        response = staff.post(
            "/admin/schedules/slot/close/",
            {"clinic": slot.professional.clinic_id, "first_day": "2026-12-01", "last_day": "2026-12-31"},
        )
        page = response.content.decode()
        assert f"/admin/schedules/appointment/{appointment.pk}/change/" in page
        assert Slot.objects.filter(pk=slot.pk).exists()

    def test_d14_deleting_a_held_slot_is_refused_with_the_appointment(self, staff, slot, patient):
        appointment = book(slot, patient)
        page = staff.get(f"/admin/schedules/slot/{slot.pk}/delete/").content.decode()
        assert str(appointment) in page
        staff.post(f"/admin/schedules/slot/{slot.pk}/delete/", {"post": "yes"})
        assert Slot.objects.filter(pk=slot.pk).exists()


class TestClinicTimeZone:
    @pytest.fixture
    def islands(self, clinic):
        clinic.timezone = "America/Halifax"  # Îles-de-la-Madeleine: an hour ahead of Montréal
        clinic.save()
        return clinic

    def test_staff_read_times_in_their_clinics_zone(self, staff, islands, professional, service, patient):
        book(make_slot(professional, service, datetime(2026, 12, 3, 14, 30, tzinfo=TORONTO)), patient)
        page = staff.get("/admin/schedules/appointment/").content.decode()
        assert "15\u00a0h\u00a030" in page and "14\u00a0h\u00a030" not in page  # 2026-12-03 15 h 30, the islands' clock

    def test_closing_a_day_counts_the_clinics_own_midnight(self, staff, islands, professional, service):
        late = make_slot(professional, service, datetime(2026, 12, 1, 23, 30, tzinfo=TORONTO))  # Dec 2, 00:30 there
        staff.post(
            "/admin/schedules/slot/close/", {"clinic": islands.pk, "first_day": "2026-12-01", "last_day": "2026-12-01"}
        )
        assert Slot.objects.filter(pk=late.pk).exists()
        staff.post(
            "/admin/schedules/slot/close/", {"clinic": islands.pk, "first_day": "2026-12-02", "last_day": "2026-12-02"}
        )
        assert not Slot.objects.filter(pk=late.pk).exists()


class TestStartPage:
    def test_it_shows_today_and_tomorrow_failures_replies_and_rates(self, staff, clinic, professional, service, clock):
        from outbox.dispatch import send_due_messages
        from outbox.models import Reply

        tomorrow = book(
            make_slot(professional, service, NOW + timedelta(days=1)),
            make_patient(clinic, last_name="Demain", email="", phone=""),
        )
        send_due_messages()  # no contact: the confirmation fails
        Reply.objects.create(
            channel="sms", number="+15145550111", body="C'est où?", clinic=clinic, outcome="not_understood"
        )
        page = staff.get("/admin/").content.decode()
        assert "Demain" in page  # tomorrow's appointment
        assert "aucun moyen de contact" in page  # the failed message
        assert "C&#x27;est où?" in page or "C'est où?" in page
        assert "Taux de confirmation" in page or "Confirmation rate" in page
        assert tomorrow.get_status_display() in page


class TestSpeed:
    def many(self, count: int, clinic, professional, service, first: int = 0):
        patient = make_patient(clinic)
        for index in range(first, first + count):
            slot = make_slot(professional, service, NOW + timedelta(days=30, minutes=30 * index))
            book(slot, patient)

    def queries_for(self, admin_client, path) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(path).status_code == 200
        return len(captured)

    @pytest.mark.parametrize(
        "path", ["/admin/schedules/appointment/", "/admin/outbox/message/", "/admin/schedules/statuschange/"]
    )
    def test_the_query_count_does_not_grow_with_the_table(self, admin_client, clinic, professional, service, path):
        self.many(5, clinic, professional, service)
        few = self.queries_for(admin_client, path)
        self.many(995, clinic, professional, service, first=5)
        assert self.queries_for(admin_client, path) == few

    def test_no_full_table_count_on_large_lists(self, admin_client, clinic, professional, service, settings):
        from backoffice.admin_scoping import CappedPaginator

        self.many(30, clinic, professional, service)
        settings.DEBUG = True
        CappedPaginator.CAP, cap = 20, CappedPaginator.CAP
        try:
            with CaptureQueriesContext(connection) as captured:
                admin_client.get("/admin/schedules/appointment/")
        finally:
            CappedPaginator.CAP = cap
        counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
        assert counts and all("LIMIT 21" in sql for sql in counts)


def test_staff_of_clinics_in_two_zones_keep_the_default_zone(client, clinic):
    from django.utils import timezone

    from backoffice.clinic_time import ClinicTimeZoneMiddleware
    from conftest import make_clinic

    user = User.objects.create_user("multi", password="x", is_staff=True)
    for name, zone in [("A", "America/Halifax"), ("B", "America/Halifax"), ("C", "America/Vancouver")]:
        make_clinic(f"Clinique {name}", timezone=zone).staff.add(user)
    seen = []
    request = type("Request", (), {"user": user})()
    ClinicTimeZoneMiddleware(lambda request: seen.append(timezone.get_current_timezone_name()))(request)
    assert seen == ["America/Toronto"]


def offered(page: str) -> set[int]:
    """The slots the agenda's grid offers to move or copy into."""
    grid = page[page.index('<table class="agenda') :]  # the table's classes also name the span
    return {int(pk) for pk in re.findall(r'name="slot" value="(\d+)"', grid)}


def suggested(page: str) -> list[int]:
    """The slots of a compatible service the agenda suggests first, in order."""
    found = re.search(r'<section id="compatible-slots".*?</section>', page, re.S)
    return [int(pk) for pk in re.findall(r'name="slot" value="(\d+)"', found.group(0))] if found else []


class TestStartPageFigures:
    def test_no_reminders_reads_a_dash_not_zero_percent(self, staff):
        page = staff.get("/admin/").content.decode()
        assert "0 % (0/0)" not in page and "0&nbsp;% (0/0)" not in page
        # A dash for the eye, words for a screen reader; email, SMS, phone.
        assert page.count('<span aria-hidden="true">—</span><span class="visually-hidden">aucun rappel</span>') == 3

    def test_each_figure_links_to_the_list_it_counts(self, staff, slot, patient, clinic, professional, service):
        from outbox.dispatch import send_due_messages
        from outbox.models import Message

        confirmed = book(slot, patient)
        other = book(make_slot(professional, service, slot.start + timedelta(hours=1)), make_patient(clinic))
        Message.objects.filter(kind="reminder").update(due_at=NOW)
        send_due_messages()
        confirmed.refresh_from_db()
        confirmed.status = "confirmed_email"
        confirmed.save(update_fields=["status", "updated_at"])
        page = staff.get("/admin/").content.decode()
        assert "50&nbsp;%" in page
        links = dict.fromkeys(re.findall(r'href="(/admin/outbox/message/\?[^"]+)"', page))
        assert len(links) == 2
        reminded, confirmed_only = sorted(links, key=len)
        listed = staff.get(reminded.replace("&amp;", "&")).content.decode()
        mine = Message.objects.get(appointment=confirmed, kind="reminder")
        theirs = Message.objects.get(appointment=other, kind="reminder")
        assert f"/{mine.pk}/change/" in listed and f"/{theirs.pk}/change/" in listed
        listed = staff.get(confirmed_only.replace("&amp;", "&")).content.decode()
        assert f"/{mine.pk}/change/" in listed and f"/{theirs.pk}/change/" not in listed
