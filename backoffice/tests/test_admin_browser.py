"""The back office in a real browser (issue 6, "Done when"): a staff member
logs in, books an appointment in a slot, the worker runs, and the list shows
"Confirmation sent" with its note. Screenshots of the main screens go to
test-artifacts/screenshots/ (docs/ shows them)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from confirmations import tasks
from conftest import book, make_patient, make_slot, open_tab, screenshot
from schedules.access import STAFF_GROUP
from schedules.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("today")]


@pytest.fixture
def receptionist(clinic):
    user = User.objects.create_user("accueil", password="mot-de-passe-demo", is_staff=True, first_name="Lucie")
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    return user


def test_staff_books_in_a_slot_and_sees_the_confirmation_sent(
    desktop, live_server, settings, receptionist, slot, clinic
):
    settings.HUB_PUBLIC_URL = live_server.url
    patient = make_patient(clinic, first_name="Jean", last_name="Roy", email="jean@example.com")
    page = desktop

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "accueil")
    page.fill("#id_password", "mot-de-passe-demo")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Aujourd’hui")

    page.goto(f"{live_server.url}/admin/schedules/slot/")
    screenshot(page, "admin-slots")
    page.click(f"a[href$='?slot={slot.pk}']")
    assert page.input_value("#id_start_0") == "2026-12-03" and page.input_value("#id_start_1").startswith("14:30")

    page.click("span[aria-labelledby='select2-id_patient-container']")
    page.fill(".select2-search__field", "Roy")
    page.click(f".select2-results__option:has-text('{patient}')")
    screenshot(page, "admin-booking")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    appointment = Appointment.objects.get(slot=slot)
    assert appointment.patient == patient and appointment.history.get().user == receptionist

    tasks.send_due_messages()  # what the worker runs every minute and on each change

    page.goto(f"{live_server.url}/admin/schedules/appointment/")
    row = page.locator("#result_list tbody tr").first
    assert "Confirmation envoyée par courriel" in row.inner_text()
    assert re.search(
        r"Envoyé par courriel le \d{1,2}(er)? \w+ \d{4} à \d{1,2}\xa0h(\xa0\d{2})? à jean@example\.com",
        row.inner_text(),
    )
    screenshot(page, "admin-appointments")

    page.goto(f"{live_server.url}/admin/schedules/appointment/{appointment.pk}/change/")
    assert "Confirmation : envoi par courriel le" in page.inner_text("body").replace("\u00a0", " ")
    screenshot(page, "admin-appointment")

    # Someone booked for later today: the start page shows it with its status.
    soon = make_slot(slot.professional, slot.service, timezone.now() + timedelta(hours=3))
    book(soon, make_patient(clinic, first_name="Léa", last_name="Gauthier", email="lea@example.com"))
    tasks.send_due_messages()
    page.goto(f"{live_server.url}/admin/")
    assert "Gauthier" in page.inner_text("body")
    screenshot(page, "admin-start-page")


FORM_WORDS = {
    "fr": ("fr-CA", "Aujourd’hui", "J’ai lu les avertissements", "modifié"),
    "en": ("en-CA", "Today", "I have read the warnings", "changed"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_appointment_form_has_one_date_style_and_asks_to_save_anyway_only_after_a_warning(
    browser, live_server, receptionist, slot, clinic, language
):
    locale, today, save_anyway, changed = FORM_WORDS[language]
    appointment = book(slot, make_patient(clinic, email="jean@example.com"))
    context, page = open_tab(browser, 1280, 900, locale=locale)
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "accueil")
        page.fill("#id_password", "mot-de-passe-demo")
        page.click("input[type=submit]")
        page.wait_for_selector(f"text={today}")
        page.goto(f"{live_server.url}/admin/schedules/appointment/{appointment.pk}/change/")
        assert page.input_value("#id_start_0") == "2026-12-03"
        assert re.search(r"2026-11-23", page.inner_text(".field-created_at"))
        assert page.locator("#id_acknowledge").is_hidden()
        assert page.get_by_text(save_anyway).is_hidden()
        # The calendar's "today" writes the same style.
        page.locator(".field-start .datetimeshortcuts a").first.click()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", page.input_value("#id_start_0"))  # the browser's own today
        page.fill("#id_start_0", "2026-12-03")

        page.fill("#id_end_1", "16:00")  # past the slot: a warning first
        page.click("input[name=_continue]")
        page.wait_for_selector(".errornote")
        assert page.get_by_text(save_anyway).is_visible()
        page.check("#id_acknowledge")
        page.click("input[name=_continue]")
        page.wait_for_selector(f".messagelist .success:has-text('{changed}')")
    finally:
        context.close()
