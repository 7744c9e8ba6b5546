"""The receptionist's agenda and one-click actions (issue 11)."""

import re
from datetime import datetime, timedelta
from itertools import product

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.tests.test_back_office import offered, suggested
from conftest import TORONTO, book, make_clinic, make_patient, make_professional, make_service, make_slot
from outbox.models import Message
from schedules.models import Appointment

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 11, 0, tzinfo=TORONTO)  # a Thursday
DAY = "2026-12-03"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute) + timedelta(days=days)


def agenda(client, HTTP_ACCEPT_LANGUAGE="fr", **query) -> str:
    response = client.get("/admin/schedules/agenda/", query, HTTP_ACCEPT_LANGUAGE=HTTP_ACCEPT_LANGUAGE)
    assert response.status_code == 200
    return response.content.decode()


def entry(page: str, slot) -> str:
    """The agenda's line for `slot`."""
    found = re.search(rf'<li class="entry[^"]*" id="slot-{slot.pk}"[^>]*>(.*?)</li>', page, re.S)
    assert found, f"slot {slot.pk} is not in the agenda"
    return found.group(0)


class TestADay:
    def test_free_booked_cancelled_and_past_at_a_glance(self, staff, professional, service, clinic):
        past = make_slot(professional, service, at(9))
        free = make_slot(professional, service, at(14))
        booked = make_slot(professional, service, at(15))
        freed = make_slot(professional, service, at(16))
        book(booked, make_patient(clinic, last_name="Roy"))
        gone = book(freed, make_patient(clinic, last_name="Côté"))
        gone.status = Appointment.Status.CANCELLED
        gone.save()
        page = agenda(staff, day=DAY)
        assert "tone-past" in entry(page, past) and "Passé" in entry(page, past)
        assert "Book" not in entry(page, past) and "Réserver" not in entry(page, past)
        assert f"/admin/schedules/appointment/add/?slot={free.pk}" in entry(page, free)
        assert "tone-free" in entry(page, free) and "Libre" in entry(page, free)
        line = entry(page, booked)
        assert "Jean Roy" in line and "tone-booked" in line and "Réservé" in line  # a colour and a label
        line = entry(page, freed)
        assert "tone-free" in line and "Côté" in line and "Annulé" in line  # free again, the cancellation shown

    def test_the_status_follows_the_confirmation(self, staff, slot, patient):
        from outbox.dispatch import send_due_messages

        with time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=TORONTO), tick=False):
            book(slot, patient)
            send_due_messages()
        line = entry(agenda(staff, day=DAY), slot)
        assert "tone-sent" in line and "Confirmation envoyée par courriel" in line

    def test_the_current_time_is_marked_between_the_mornings_and_the_afternoons(self, staff, professional, service):
        morning, afternoon = make_slot(professional, service, at(9)), make_slot(professional, service, at(14))
        page = agenda(staff, day=DAY)
        now = page.index('<li class="agenda-now">')
        assert page.index(f'id="slot-{morning.pk}"') < now < page.index(f'id="slot-{afternoon.pk}"')
        assert "Maintenant · 11\u00a0h" in page
        assert '<li class="agenda-now">' not in agenda(staff, day="2026-12-04")

    def test_an_appointment_outside_any_slot_is_shown_at_its_time(self, staff, professional, service, patient):
        book(None, patient, professional=professional, service=service, start=at(13), end=at(13, 20))
        page = agenda(staff, day=DAY)
        assert "13\u00a0h–13\u00a0h\u00a020" in page and "Jean Roy" in page

    def test_one_column_per_professional_and_a_filter(self, staff, clinic, professional, service):
        other = make_professional(clinic, first_name="Luc", last_name="Gagnon")
        make_slot(other, service, at(14))
        page = agenda(staff, day=DAY)
        assert re.search(r'<th scope="col">Luc Gagnon</th>\s*<th scope="col">Marie Tremblay</th>', page)
        page = agenda(staff, day=DAY, professional=other.pk)
        assert '<th scope="col">Luc Gagnon</th>' in page and '<th scope="col">Marie Tremblay</th>' not in page

    def test_in_english(self, staff, slot):
        page = staff.get("/admin/schedules/agenda/", {"day": DAY}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Thursday, December 3" in page and "2:30 PM–3:00 PM" in page and ">Free<" in page


class TestNavigation:
    def test_a_week_from_monday_to_sunday_with_links_to_each_day(self, staff, slot):
        page = agenda(staff, day=DAY, span="week")
        assert "lundi 30 novembre" in page and "dimanche 6 décembre" in page
        assert f'id="slot-{slot.pk}"' in page
        assert "day=2026-12-10" in page and "day=2026-11-26" in page  # next and previous weeks
        assert "day=2026-11-30" in page and "day=2026-12-06" in page  # each day opens on its own

    @pytest.mark.parametrize(
        "query",
        [{"day": "abc"}, {"day": "9999-99-99"}, {"day": "0001-01-01"}, {"clinic": "x"}, {"move": "abc"},
         {"professional": "1.5"}, {"find": "1", "from": "2026-02-31", "category": "nope", "with": "z"}],
    )  # fmt: skip
    def test_nonsense_in_the_address_shows_today(self, staff, query):
        assert "jeudi 3 décembre" in agenda(staff, **query)

    def test_staff_see_only_their_clinics_agenda(self, staff, clinic, slot):
        elsewhere = make_clinic("Autre clinique")
        theirs = make_slot(make_professional(elsewhere, last_name="Autre"), make_service(elsewhere), at(14))
        page = agenda(staff, day=DAY, clinic=elsewhere.pk)
        assert f'id="slot-{theirs.pk}"' not in page and f'id="slot-{slot.pk}"' in page

    def test_a_constant_number_of_queries_for_1_or_10_professionals_1_or_7_days(self, staff, clinic, service):
        doctors = [make_professional(clinic, first_name=f"D{n}", last_name=f"Docteur{n}") for n in range(10)]
        for n, doctor in enumerate(doctors):
            for day in range(7):
                slot = make_slot(doctor, service, at(14, days=day - 3))
                if day % 2:
                    book(slot, make_patient(clinic, last_name=f"P{n}{day}"))
        counts = {}
        for chosen, span in product((doctors[:1], doctors), ("day", "week")):
            with CaptureQueriesContext(connection) as queries:
                page = agenda(staff, day=DAY, span=span, professional=[doctor.pk for doctor in chosen])
            assert page.count('class="entry tone-') >= len(chosen)
            counts[(len(chosen), span)] = len(queries)
        assert len(set(counts.values())) == 1, counts


class TestNextFreeSlot:
    def test_it_finds_the_first_free_slot_of_a_kind_and_shows_its_day(self, staff, clinic, professional, service):
        phone = make_service(clinic, category="phone", name_fr="Téléphone", name_en="Phone")
        make_slot(professional, service, at(14))  # in person: not this kind
        taken = make_slot(professional, phone, at(15))
        book(taken, make_patient(clinic))
        wanted = make_slot(professional, phone, at(10, days=2))
        response = staff.get("/admin/schedules/agenda/", {"find": 1, "category": "phone", "from": DAY})
        assert response.status_code == 302
        assert "day=2026-12-05" in response["Location"] and response["Location"].endswith(f"#slot-{wanted.pk}")
        page = staff.get(response["Location"]).content.decode()
        assert "found" in entry(page, wanted)

    def test_by_professional_and_from_a_date(self, staff, clinic, professional, service):
        other = make_professional(clinic, last_name="Gagnon")
        make_slot(professional, service, at(14, days=1))
        later = make_slot(other, service, at(9, days=8))
        make_slot(other, service, at(9, days=1))
        response = staff.get("/admin/schedules/agenda/", {"find": 1, "with": other.pk, "from": "2026-12-10"})
        assert response["Location"].endswith(f"#slot-{later.pk}")

    def test_nothing_free_says_so(self, staff):
        response = staff.get("/admin/schedules/agenda/", {"find": 1, "category": "home"}, follow=True)
        assert "Aucune plage libre" in response.content.decode()


class TestMoveAndCopyFromTheAgenda:
    def test_move_opens_the_agenda_then_the_chosen_slot_takes_it(self, staff, slot, patient, professional, service):
        appointment = book(slot, patient)
        target = make_slot(professional, service, slot.start + timedelta(hours=2))
        opened = staff.get(f"/admin/schedules/appointment/{appointment.pk}/move/", follow=True)
        assert "Choisissez la plage libre" in opened.content.decode()
        assert offered(opened.content.decode()) == {target.pk}
        staff.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": target.pk})
        appointment.refresh_from_db()
        assert appointment.slot == target
        assert Message.objects.filter(appointment=appointment, kind="modification").exists()

    @pytest.mark.parametrize("slot_id", ["abc", "", "999999"])
    def test_a_slot_that_is_not_offered_is_refused_clearly(self, staff, slot, patient, slot_id):
        appointment = book(slot, patient)
        response = staff.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": slot_id}, follow=True)
        assert "n’est plus libre" in response.content.decode()
        appointment.refresh_from_db()
        assert appointment.slot == slot


class TestMovingToACompatibleSlot:
    """R16, R17: a move keeps the service; slots of the same service come
    first, then of the same category, each with its service; a move into a
    slot of another service asks first."""

    @pytest.fixture
    def services(self, clinic):
        return {
            "visit": make_service(clinic, name_fr="Consultation", name_en="Visit"),
            "long": make_service(clinic, name_fr="Consultation longue", name_en="Long visit"),
            "home": make_service(clinic, category="home", name_fr="Visite à domicile", name_en="Home visit"),
            "admin": make_service(clinic, category="none", name_fr="Temps administratif", name_en="Admin time"),
        }

    def test_slots_of_the_same_service_come_first_then_of_the_same_category(
        self, staff, clinic, professional, patient, services
    ):
        appointment = book(make_slot(professional, services["visit"], at(14)), patient)
        admin_time = make_slot(professional, services["admin"], at(12))
        home = make_slot(professional, services["home"], at(13))
        longer = make_slot(professional, services["long"], at(15))
        same_tomorrow = make_slot(professional, services["visit"], at(9, days=1))
        same_later = make_slot(professional, services["visit"], at(16))
        page = agenda(staff, day=DAY, move=appointment.pk)
        assert suggested(page) == [same_later.pk, same_tomorrow.pk, longer.pk]
        section = re.search(r'<section id="compatible-slots".*?</section>', page, re.S).group(0)
        assert "Consultation longue" in section and "Temps administratif" not in section
        assert {admin_time.pk, home.pk} <= offered(page)  # still in the grid, each with its service
        assert "Visite à domicile" in entry(page, home)

    def test_in_english(self, staff, professional, patient, services):
        appointment = book(make_slot(professional, services["visit"], at(14)), patient)
        make_slot(professional, services["long"], at(15))
        page = agenda(staff, day=DAY, move=appointment.pk, HTTP_ACCEPT_LANGUAGE="en")
        section = re.search(r'<section id="compatible-slots".*?</section>', page, re.S).group(0)
        assert "Long visit" in section and "Move here" in section

    def test_r16_a_move_into_a_slot_of_another_service_asks_first(self, staff, professional, patient, services):
        appointment = book(make_slot(professional, services["visit"], at(14)), patient)
        home = make_slot(professional, services["home"], at(16))
        url = f"/admin/schedules/appointment/{appointment.pk}/move/"
        asked = staff.post(url, {"slot": home.pk})
        page = asked.content.decode()
        assert asked.status_code == 200
        assert "Visite à domicile" in page and "Consultation" in page
        assert "Si vous changez ensuite son service pour celui de la plage, le patient n’en sera pas avisé" in page
        appointment.refresh_from_db()
        assert appointment.slot_id != home.pk  # nothing yet
        staff.post(url, {"slot": home.pk, "acknowledge": "1"})
        appointment.refresh_from_db()
        assert (appointment.slot, appointment.service) == (home, services["visit"])

    def test_a_move_into_a_slot_of_the_same_service_asks_nothing(self, staff, professional, patient, services):
        appointment = book(make_slot(professional, services["visit"], at(14)), patient)
        same = make_slot(professional, services["visit"], at(16))
        response = staff.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": same.pk})
        assert response.status_code == 302
        appointment.refresh_from_db()
        assert appointment.slot == same


class TestCancelFromItsPage:
    def test_a_confirmation_step_then_the_patient_is_told(self, staff, slot, patient):
        appointment = book(slot, patient)
        page = staff.get(f"/admin/schedules/appointment/{appointment.pk}/change/").content.decode()
        assert f"/admin/schedules/appointment/{appointment.pk}/cancel/" in page
        question = staff.get(f"/admin/schedules/appointment/{appointment.pk}/cancel/")
        assert "Le patient recevra un avis d’annulation" in question.content.decode()
        appointment.refresh_from_db()
        assert appointment.is_active  # nothing on GET
        staff.post(f"/admin/schedules/appointment/{appointment.pk}/cancel/", {"version": appointment.version})
        appointment.refresh_from_db()
        assert appointment.status == "cancelled"
        assert Message.objects.filter(appointment=appointment, kind="cancellation").exists()

    def test_a_page_opened_before_another_change_cancels_nothing(self, staff, slot, patient):
        appointment = book(slot, patient)
        opened_at = appointment.version
        appointment.notes = "Changé par une collègue"
        appointment.save()
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/cancel/", {"version": opened_at}, follow=True
        )
        assert "Rien n’a été enregistré" in response.content.decode()
        appointment.refresh_from_db()
        assert appointment.is_active


class TestLists:
    def test_the_slot_list_starts_today_says_whether_each_is_free_and_books_only_free_ones(
        self, staff, professional, service, clinic
    ):
        yesterday = make_slot(professional, service, at(14, days=-1))
        earlier = make_slot(professional, service, at(9))
        free = make_slot(professional, service, at(14))
        held = make_slot(professional, service, at(15))
        book(held, make_patient(clinic))
        page = staff.get("/admin/schedules/slot/").content.decode()
        assert f"/admin/schedules/slot/{yesterday.pk}/change/" not in page
        assert f"?slot={free.pk}" in page and f"?slot={held.pk}" not in page and f"?slot={earlier.pk}" not in page
        assert "Libre" in page and "Réservé" in page and "Passé" in page
        past = staff.get("/admin/schedules/slot/", {"when": "past"}).content.decode()
        assert f"/admin/schedules/slot/{yesterday.pk}/change/" in past

    def test_d16_every_list_frees_a_cancelled_slot_and_not_one_another_appointment_overlaps(
        self, staff, professional, service, clinic, patient
    ):
        freed = make_slot(professional, service, at(14))
        gone = book(freed, patient)
        gone.status = Appointment.Status.CANCELLED
        gone.save()
        overlapped = make_slot(professional, service, at(15))
        outside = make_patient(clinic, last_name="Côté")
        book(None, outside, professional=professional, service=service, start=at(15, 10), end=at(15, 20))
        moving = book(make_slot(professional, service, at(9, days=1)), make_patient(clinic, last_name="Gagnon"))
        page = agenda(staff, day=DAY, move=moving.pk)
        assert suggested(page) == [freed.pk] and offered(page) == {freed.pk}
        assert "Occupée par un autre rendez-vous" in entry(page, overlapped)
        found = staff.get("/admin/schedules/agenda/", {"find": 1, "from": DAY})
        assert found["Location"].endswith(f"#slot-{freed.pk}")
        picker = staff.get(
            "/admin/autocomplete/",
            {"app_label": "schedules", "model_name": "appointment", "field_name": "slot", "term": ""},
        ).json()
        assert {int(result["id"]) for result in picker["results"]} == {freed.pk}
        page = staff.get("/admin/schedules/slot/").content.decode()
        assert f"?slot={freed.pk}" in page and f"?slot={overlapped.pk}" not in page
        assert "Occupée par un autre rendez-vous" in page

    def test_the_appointment_list_looks_forward(self, staff, professional, service, clinic):
        before = book(make_slot(professional, service, at(14, days=-2)), make_patient(clinic, last_name="Avant"))
        tomorrow = book(make_slot(professional, service, at(14, days=1)), make_patient(clinic, last_name="Demain"))
        page = staff.get("/admin/schedules/appointment/").content.decode()
        assert f"/{tomorrow.pk}/change/" in page and f"/{before.pk}/change/" not in page
        only_today = staff.get("/admin/schedules/appointment/", {"when": "today"}).content.decode()
        assert f"/{tomorrow.pk}/change/" not in only_today
        assert (
            f"/{tomorrow.pk}/change/"
            in staff.get("/admin/schedules/appointment/", {"when": "tomorrow"}).content.decode()
        )

    def test_a_planned_message_shows_the_channel_it_would_use_now(self, staff, slot, clinic):
        appointment = book(slot, make_patient(clinic, email="", mobile="+15145550111"))
        page = staff.get(f"/admin/schedules/appointment/{appointment.pk}/change/").content.decode()
        assert "texto, s’il part maintenant" in page

    def test_the_slot_picker_offers_free_future_slots_only(self, staff, slot, patient, professional, service):
        book(slot, patient)
        free = make_slot(professional, service, slot.start + timedelta(hours=1))
        past = make_slot(professional, service, at(9))
        found = staff.get(
            "/admin/autocomplete/",
            {"app_label": "schedules", "model_name": "appointment", "field_name": "slot", "term": ""},
        ).json()
        ids = {int(result["id"]) for result in found["results"]}
        assert free.pk in ids and slot.pk not in ids and past.pk not in ids


class TestFoundInReview:
    def test_a_cancelled_appointment_outside_any_slot_reads_cancelled_not_free(
        self, staff, professional, service, patient
    ):
        gone = book(None, patient, professional=professional, service=service, start=at(13), end=at(13, 20))
        gone.status = Appointment.Status.CANCELLED
        gone.save()
        page = agenda(staff, day=DAY)
        line = re.search(r'<li class="entry tone-[a-z]+">\s*<span class="time">13\u00a0h–', page)
        assert line and "tone-cancelled" in line.group(0)

    def test_a_cancelled_appointment_cannot_be_moved(self, staff, slot, patient, professional, service):
        appointment = book(slot, patient)
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        target = make_slot(professional, service, slot.start + timedelta(hours=2))
        staff.post(f"/admin/schedules/appointment/{appointment.pk}/move/", {"slot": target.pk})
        appointment.refresh_from_db()
        assert appointment.slot_id == slot.pk
        assert "Déplacer ici" not in agenda(staff, day="2026-12-03", move=appointment.pk)

    def test_staff_are_not_told_the_patient_hears_of_what_sends_nothing(self, staff, slot, clinic, professional):
        silent = make_service(clinic, category="none", name_fr="Tâches")
        appointment = book(slot, make_patient(clinic), service=silent)  # a copy keeps its service (R17)
        target = make_slot(professional, slot.service, slot.start + timedelta(hours=2))
        response = staff.post(
            f"/admin/schedules/appointment/{appointment.pk}/copy/", {"slot": target.pk, "acknowledge": "1"}, follow=True
        )
        page = response.content.decode()
        assert "Copié." in page and "reçoit une confirmation" not in page

    def test_see_in_the_agenda_opens_the_clinics_own_day(self, staff, clinic, professional, service, patient):
        clinic.timezone = "America/Vancouver"
        clinic.save()
        late = make_slot(professional, service, datetime(2026, 12, 3, 23, 30, tzinfo=clinic.zone))  # Dec 4 in Toronto
        appointment = book(late, patient)
        page = staff.get(f"/admin/schedules/appointment/{appointment.pk}/change/").content.decode()
        assert f"day=2026-12-03#slot-{late.pk}" in page

    def test_the_week_days_keep_the_filter_and_the_mode(self, staff, slot, patient, professional):
        appointment = book(slot, patient)
        page = agenda(staff, day=DAY, span="week", move=appointment.pk, professional=professional.pk)
        assert f"move={appointment.pk}" in page.split("day=2026-12-04")[0].rsplit("href", 1)[-1]


def test_crafted_ids_in_a_clinic_list_are_a_form_error(client, clinic):
    from schedules.access import SUPPORT_GROUP

    user = User.objects.create_user("soutien", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    client.force_login(user)
    data = {"username": "n", "usable_password": "false", "clinics": ["99999999999999999999999"]}
    assert client.post("/admin/auth/user/add/", data).status_code == 200
    assert not User.objects.filter(username="n").exists()


def test_the_slot_list_offers_closing_a_day_to_who_may_delete_slots(staff):
    page = staff.get("/admin/schedules/slot/").content.decode()
    assert "/admin/schedules/slot/close/" in page and "/admin/schedules/slot/series/" in page


def test_no_view_site_link_to_a_page_that_does_not_exist(staff):
    page = staff.get("/admin/").content.decode()
    assert "Voir le site" not in page and 'href="/"' not in page
