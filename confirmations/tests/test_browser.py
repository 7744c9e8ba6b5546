"""The patient pages in a real browser (issue 5, "Browser tests"; R25, R26, D11).

Headless Chromium from Debian's `chromium` package (`.ci/install-packages`),
driven by Playwright's sync API against pytest-django's live server. Every
link comes from an email the Hub actually sent (`send_due_messages`, Django's
locmem mail backend), built on HUB_PUBLIC_URL pointed at the live server.
Phone-width screenshots of each page state go to test-artifacts/screenshots/.
"""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from confirmations.rules import CONFIRMATION, REMINDER
from conftest import book, make_patient, make_slot, screenshot
from outbox.dispatch import send_due_messages
from outbox.models import Message
from schedules.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("today")]

CANCEL_LINE = re.compile(r"Annuler le rendez-vous : (\S+)")
CONFIRM_LINE = re.compile(r"Confirmer ma présence : (\S+)")

SLOT_DATE = "jeudi 3 décembre 2026 à 14 h 30"  # the `slot` fixture, in the clinic's zone
CLINIC_PHONE = "514 555-0100"


# --- helpers -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def hub_on_live_server(settings, live_server):
    """Links in emails point at the live server; every test starts with a
    fresh rate-limit budget (the pages allow 20 requests a minute per IP)."""
    settings.HUB_PUBLIC_URL = live_server.url
    settings.ALLOWED_HOSTS = ["*"]
    cache.clear()
    mail.outbox.clear()
    yield
    cache.clear()


def email_link(appointment: Appointment, kind: str, pattern: re.Pattern) -> str:
    """The link matching `pattern` in the email of this kind (confirmation,
    reminder) that the Hub sent for the appointment."""
    message = Message.objects.get(appointment=appointment, kind=kind, state=Message.State.SENT)
    sent = [email for email in mail.outbox if email.body == message.content]
    assert len(sent) == 1, f"the {kind} email is not in the outbox: {[email.subject for email in mail.outbox]}"
    match = pattern.search(sent[0].body)
    assert match, f"no {pattern.pattern!r} in the {kind} email:\n{sent[0].body}"
    return match.group(1)


def send(appointment: Appointment) -> Appointment:
    """Runs the dispatcher as the worker would; returns the fresh appointment."""
    summary = send_due_messages()
    assert summary["failed"] == 0, str(summary)
    appointment.refresh_from_db()
    return appointment


def status_of(appointment: Appointment) -> str:
    appointment.refresh_from_db()
    return appointment.status


# --- tests -------------------------------------------------------------------


def click_and_post(page, button):
    """Clicks the page's button and returns the response to its POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        button.click()
    page.wait_for_load_state()
    return posted.value


def test_the_cancel_link_shows_the_appointment_and_changes_nothing(page, live_server, slot, patient, clinic):
    from playwright.sync_api import expect

    appointment = send(book(slot, patient))
    before = appointment.status
    assert before != Appointment.Status.CANCELLED
    link = email_link(appointment, CONFIRMATION, CANCEL_LINE)
    assert link.startswith(live_server.url)

    page.goto(link)
    main = page.locator("main")
    expect(page.locator("h1")).to_have_text("Annuler votre rendez-vous")
    expect(main).to_contain_text(SLOT_DATE)
    expect(main).to_contain_text(clinic.name)
    expect(main).to_contain_text("Marie Tremblay")
    expect(page.get_by_role("button", name="Annuler le rendez-vous")).to_be_visible()
    screenshot(page, "cancel-page")
    page.reload()  # opening it again (a scanner, a preview) changes nothing either
    assert status_of(appointment) == before


def test_the_cancel_button_cancels_and_frees_the_slot(page, slot, patient, clinic):
    from playwright.sync_api import expect

    appointment = send(book(slot, patient))
    page.goto(email_link(appointment, CONFIRMATION, CANCEL_LINE))
    posted = click_and_post(page, page.get_by_role("button", name="Annuler le rendez-vous"))
    screenshot(page, "cancel-done")  # what the patient sees after the click, whatever it is
    assert posted.status in (302, 303), f"the POST got {posted.status}"
    expect(page.get_by_role("status")).to_contain_text("Votre rendez-vous est annulé.")
    expect(page.get_by_role("button")).to_have_count(0)
    assert status_of(appointment) == Appointment.Status.CANCELLED
    assert appointment.history.filter(actor="patient", status=Appointment.Status.CANCELLED).exists()

    # The slot is free: another patient can be booked in it at once.
    other = book(slot, make_patient(clinic, first_name="Léa", email="lea@example.com"))
    assert other.slot_id == slot.pk and other.is_active


def _book_reminded(professional, service, patient) -> Appointment:
    """Booked 30 h ahead: the reminder (48 h before) is already due, so the
    Hub sends the confirmation and the reminder at once."""
    soon = make_slot(professional, service, timezone.now() + timedelta(hours=30))
    return send(book(soon, patient))


def test_the_confirm_link_shows_the_appointment_and_changes_nothing(page, professional, service, patient, clinic):
    from playwright.sync_api import expect

    appointment = _book_reminded(professional, service, patient)
    before = appointment.status
    assert before != Appointment.Status.CONFIRMED_EMAIL

    page.goto(email_link(appointment, REMINDER, CONFIRM_LINE))
    expect(page.locator("h1")).to_have_text("Confirmer votre rendez-vous")
    expect(page.locator("main")).to_contain_text(clinic.name)
    expect(page.locator("main")).to_contain_text("Marie Tremblay")
    expect(page.get_by_role("button", name="Confirmer ma présence")).to_be_visible()
    screenshot(page, "confirm-page")
    page.reload()
    assert status_of(appointment) == before


def test_the_confirm_button_confirms(page, professional, service, patient):
    from playwright.sync_api import expect

    appointment = _book_reminded(professional, service, patient)
    page.goto(email_link(appointment, REMINDER, CONFIRM_LINE))
    posted = click_and_post(page, page.get_by_role("button", name="Confirmer ma présence"))
    screenshot(page, "confirm-done")
    assert posted.status in (302, 303), f"the POST got {posted.status}"
    expect(page.get_by_role("status")).to_contain_text("Merci\u00a0! Votre présence est confirmée.")
    expect(page.get_by_role("button")).to_have_count(0)
    assert status_of(appointment) == Appointment.Status.CONFIRMED_EMAIL


def test_too_late_to_cancel_online_shows_the_clinic_phone_and_no_button(page, professional, service, patient, today):
    from playwright.sync_api import expect

    # Emailed 25 h ahead, while the link works; opened 2 h later, inside
    # the service's 24 h cancellation delay (an email written then has no link).
    soon = make_slot(professional, service, timezone.now() + timedelta(hours=25))
    appointment = send(book(soon, patient))
    before = appointment.status
    today.shift(timedelta(hours=2))

    page.goto(email_link(appointment, CONFIRMATION, CANCEL_LINE))
    message = page.get_by_role("status")
    expect(message).to_contain_text("Il n’est plus possible d’annuler ce rendez-vous en ligne.")
    expect(message).to_contain_text(CLINIC_PHONE)
    expect(page.get_by_role("button")).to_have_count(0)
    expect(page.locator("form")).to_have_count(0)
    screenshot(page, "cancel-too-late")
    assert status_of(appointment) == before


def test_the_page_switches_to_english(page, slot, patient):
    from playwright.sync_api import expect

    appointment = send(book(slot, patient))
    before = appointment.status
    page.goto(email_link(appointment, CONFIRMATION, CANCEL_LINE))
    expect(page.locator("html")).to_have_attribute("lang", "fr-CA")

    switch = page.get_by_role("link", name="English")
    expect(switch).to_be_visible()
    switch.click()
    expect(page).to_have_url(re.compile(r"\?lang=en$"))
    expect(page.locator("html")).to_have_attribute("lang", "en-CA")
    expect(page.locator("h1")).to_have_text("Cancel your appointment")
    expect(page.locator("main")).to_contain_text("Thursday, December 3, 2026 at 2:30 PM")
    expect(page.get_by_role("button", name="Cancel the appointment")).to_be_visible()
    expect(page.get_by_role("link", name="Français")).to_be_visible()
    screenshot(page, "cancel-page-en")
    assert status_of(appointment) == before  # switching language changed nothing
