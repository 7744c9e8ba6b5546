"""The booking page and the waiting list in a real browser (D20, R20).

Debian's Chromium through Playwright, against the live server. Codes and
offers arrive by email (Django's locmem backend): the test reads them as a
patient would. Phone-width screenshots go to test-artifacts/screenshots/
(docs/ shows them).
"""

import re
from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.db import connection

from booking import waitlist
from booking.models import Offer, WaitlistEntry
from conftest import TORONTO, book, make_patient, make_service, make_slot, open_tab, postgres_only, screenshot
from outbox.dispatch import send_due_messages
from outbox.models import Message
from schedules.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("today")]

CODE = re.compile(r"\b(\d{6})\b")
OFFER_LINK = re.compile(r"(https?://\S+/rendez-vous/offre/\S+/)")


@pytest.fixture(autouse=True)
def on_live_server(hub_on_live_server):
    pass


@pytest.fixture
def bookable(clinic, service):
    clinic.online_booking, clinic.booking_address = True, "clinique-du-parc"
    clinic.address = "1000, rue du Parc\nMontréal (Québec) H2V 4E7"
    clinic.save()
    service.online_booking = True
    service.save()
    return clinic


def emailed(to: str, pattern: re.Pattern) -> str:
    send_due_messages()
    bodies = [email.body for email in mail.outbox if email.to == [to]]
    assert bodies, f"nothing was emailed to {to}"
    return pattern.search(bodies[-1]).group(1)


def fill_details(tab, first: str, last: str, contact: str) -> None:
    tab.get_by_label(re.compile("First name|Prénom")).fill(first)
    tab.get_by_label(re.compile("Last name|Nom de famille")).fill(last)
    tab.get_by_label(re.compile("Email or mobile|Courriel ou")).fill(contact)


def test_r20_a_patient_whose_record_says_french_books_in_english_and_is_confirmed_in_english(
    page, live_server, bookable, slot, patient
):
    assert patient.language == "fr"
    page.goto(f"{live_server.url}/prendre-rendez-vous/clinique-du-parc/")
    assert page.locator("h1").inner_text() == "Prendre rendez-vous"
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Book an appointment"
    screenshot(page, "booking-1-services")
    page.get_by_role("link", name="In-clinic visit").click()
    screenshot(page, "booking-2-times")
    page.get_by_role("link", name=re.compile("Thursday, December 3, 2026 at 2:30 PM")).click()
    fill_details(page, "Jean", "Roy", "jean@example.com")
    screenshot(page, "booking-3-details")
    page.get_by_role("button", name="Get my code").click()
    assert "We sent a 6-digit code to jean@example.com" in page.content()
    screenshot(page, "booking-4-code")
    page.get_by_label("6-digit code").fill(emailed("jean@example.com", CODE))
    page.get_by_role("button", name="Confirm the appointment").click()
    assert page.locator("h1").inner_text() == "Your appointment is booked"
    screenshot(page, "booking-5-booked")
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.booking_language) == (patient, "en")
    send_due_messages()
    confirmation = Message.objects.get(kind="confirmation")
    assert (confirmation.language, confirmation.state) == ("en", "sent")
    assert [email.subject for email in mail.outbox][-1].startswith("Your appointment on Thursday")


def test_two_browsers_race_for_one_slot_and_the_second_is_offered_the_next(
    browser, live_server, bookable, service, professional, slot
):
    postgres_only(connection)  # two requests writing at once: SQLite's test database locks instead
    later = make_slot(professional, service, slot.start + timedelta(days=1))
    tabs = []
    for name in ("Anne", "Bob"):
        context, tab = open_tab(browser, 390, 844)
        tab.goto(f"{live_server.url}/prendre-rendez-vous/clinique-du-parc/plage/{slot.pk}/?lang=fr")
        fill_details(tab, name, "Roy", f"{name.lower()}@example.com")
        tab.get_by_role("button", name="Recevoir mon code").click()
        tab.get_by_label("Code à 6 chiffres").fill(emailed(f"{name.lower()}@example.com", CODE))
        tabs.append((context, tab))
    for _context, tab in tabs:  # both at once: neither waits for the other's page
        tab.get_by_role("button", name="Confirmer le rendez-vous").click(no_wait_after=True)
    for _context, tab in tabs:
        tab.wait_for_selector("h1:not(:text('Entrez votre code'))")
    headings = sorted(tab.locator("h1").inner_text() for _context, tab in tabs)
    assert headings == ["Choisissez une plage horaire", "Votre rendez-vous est réservé"]
    assert Appointment.objects.filter(slot=slot).count() == 1
    loser = next(tab for _context, tab in tabs if tab.locator("h1").inner_text() == "Choisissez une plage horaire")
    assert "vient d’être réservée par quelqu’un d’autre" in loser.content()
    screenshot(loser, "booking-6-taken")
    loser.get_by_role("button", name=re.compile("vendredi 4 décembre 2026")).click()
    assert loser.locator("h1").inner_text() == "Votre rendez-vous est réservé"
    assert Appointment.objects.filter(slot=later).count() == 1
    for context, _tab in tabs:
        context.close()


@pytest.fixture
def waiting(clinic, service, slot):
    entries = []
    for name in ("Anne", "Bob"):
        patient = make_patient(clinic, first_name=name, email=f"{name.lower()}@example.com")
        entries.append(
            WaitlistEntry.objects.create(
                clinic=clinic, patient=patient, service=service, earliest=date(2026, 12, 1), latest=date(2026, 12, 5)
            )
        )
    return entries


def test_a_cancellation_sends_offers_and_the_first_to_accept_gets_the_slot(
    browser, live_server, clinic, slot, patient, waiting
):
    appointment = book(slot, patient)
    appointment.status = Appointment.Status.CANCELLED
    appointment.save()
    assert waitlist.waitlist_pass() == 2  # the worker's pass (or the task queued at the cancellation)
    links = [emailed(f"{name}@example.com", OFFER_LINK) for name in ("anne", "bob")]
    tabs = [open_tab(browser, 390, 844) for _link in links]
    for (_context, tab), link in zip(tabs, links, strict=True):
        tab.goto(link)
    screenshot(tabs[0][1], "waitlist-1-offer")
    tabs[1][1].get_by_role("button", name="Je prends ce rendez-vous").click()
    assert "ce rendez-vous est à vous" in tabs[1][1].content()
    screenshot(tabs[1][1], "waitlist-2-accepted")
    tabs[0][1].get_by_role("button", name="Je prends ce rendez-vous").click()
    assert "quelqu’un d’autre a pris cette plage. Vous restez sur la liste d’attente." in tabs[0][1].content()
    screenshot(tabs[0][1], "waitlist-3-taken")
    assert Appointment.objects.get(slot=slot, status="booked").patient == waiting[1].patient
    assert [entry.state for entry in WaitlistEntry.objects.order_by("id")] == ["waiting", "booked"]
    for context, _tab in tabs:
        context.close()


def test_an_offer_expires(page, today, clinic, slot, patient, waiting):
    appointment = book(slot, patient)
    appointment.status = Appointment.Status.CANCELLED
    appointment.save()
    waitlist.waitlist_pass()
    link = emailed("anne@example.com", OFFER_LINK)
    today.shift(timedelta(hours=2, minutes=1))
    page.goto(link)
    assert "Cette offre a pris fin. Vous restez sur la liste d’attente." in page.content()
    assert page.get_by_role("button").count() == 0
    screenshot(page, "waitlist-4-expired")
    assert waitlist.expire_offers() == 2
    assert set(Offer.objects.values_list("state", flat=True)) == {"expired"}


# What a patient reads and clicks, in each language.
WORDS = {
    "fr": {
        "send_code": "Recevoir mon code",
        "code": "Code à 6 chiffres",
        "confirm": "Confirmer le rendez-vous",
        "details": "Vos coordonnées",
        "times": "Choisissez une plage horaire",
        "gone": "cette plage n’est plus offerte par la clinique",
        "closed": "Ce type de rendez-vous ne peut plus être pris en ligne",
        "vaccine": "Vaccin",
        "sent_to": "Une confirmation vous est envoyée à j•••@example.com.",
        "accent": "Nous ne pouvons pas écrire à une adresse qui contient des accents avant le @",
        "booked": "Votre rendez-vous est réservé",
        "cancelled": "Votre rendez-vous est annulé",
        "later": "Plages suivantes",
        "earlier": "Plages précédentes",
        "from": "À partir du",
        "show": "Afficher",
        "first": "mardi 24 novembre 2026 à 9\u00a0h",
        "thirteenth": "vendredi 27 novembre 2026 à 9\u00a0h",
        "picked": "lundi 7 décembre 2026 à 9\u00a0h",
        "join": "Inscrivez-vous sur la liste d’attente",
        "join_button": "M’inscrire sur la liste d’attente",
        "joined": "Vous êtes sur la liste d’attente",
    },
    "en": {
        "send_code": "Get my code",
        "code": "6-digit code",
        "confirm": "Confirm the appointment",
        "details": "Your details",
        "times": "Choose a time",
        "gone": "the clinic no longer offers this time",
        "closed": "This kind of appointment can no longer be booked online",
        "vaccine": "Vaccine",
        "sent_to": "A confirmation is being sent to j•••@example.com.",
        "accent": "We cannot write to an address with accented letters before the @",
        "booked": "Your appointment is booked",
        "cancelled": "Your appointment is cancelled",
        "later": "Later times",
        "earlier": "Earlier times",
        "from": "From",
        "show": "Show",
        "first": "Tuesday, November 24, 2026 at 9:00 AM",
        "thirteenth": "Friday, November 27, 2026 at 9:00 AM",
        "picked": "Monday, December 7, 2026 at 9:00 AM",
        "join": "Join the waiting list",
        "join_button": "Join the waiting list",
        "joined": "You are on the waiting list",
    },
}
BOTH = pytest.mark.parametrize("lang", ["fr", "en"])


def ask_code_for(page, live_server, slot, lang: str, contact: str = "jean@example.com") -> None:
    page.goto(f"{live_server.url}/prendre-rendez-vous/clinique-du-parc/plage/{slot.pk}/?lang={lang}")
    fill_details(page, "Jean", "Roy", contact)
    page.get_by_role("button", name=WORDS[lang]["send_code"]).click()


def sms_code(to: str) -> str:
    return Message.objects.filter(kind="code", to=to).latest("id").snapshot["code"]


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@BOTH
def test_a_time_deleted_while_the_patient_is_on_the_code_page_shows_other_times(
    page, live_server, bookable, service, professional, slot, lang
):
    words = WORDS[lang]
    later = make_slot(professional, service, slot.start + timedelta(days=1))
    ask_code_for(page, live_server, slot, lang)
    slot.delete()  # support redoing the clinic's slots
    page.reload()
    assert words["gone"] in page.content() and fits_the_phone(page)
    screenshot(page, f"booking-7-time-gone-{lang}")
    page.locator(f'a[href*="plage/{later.pk}/"]').click()
    assert page.locator("h1").inner_text() == words["details"]


@BOTH
def test_a_service_closed_online_meanwhile_is_said_and_the_services_still_open_are_offered(
    page, live_server, bookable, clinic, service, slot, lang
):
    words = WORDS[lang]
    make_service(clinic, name_fr="Vaccin", name_en="Vaccine", online_booking=True)
    ask_code_for(page, live_server, slot, lang)
    service.online_booking = False
    service.save()
    page.get_by_label(words["code"]).fill(emailed("jean@example.com", CODE))
    page.get_by_role("button", name=words["confirm"]).click()
    assert words["closed"] in page.content() and fits_the_phone(page)
    screenshot(page, f"booking-8-service-closed-{lang}")
    page.get_by_role("link", name=words["vaccine"]).click()
    assert page.locator("h1").inner_text() == words["times"]
    assert not Appointment.objects.exists()


@BOTH
def test_r19_the_booked_page_names_the_records_first_contact_not_the_mobile_typed_masked(
    page, live_server, bookable, clinic, slot, lang
):
    words = WORDS[lang]
    make_patient(clinic, email="jean@example.com", mobile="+15145550122")
    ask_code_for(page, live_server, slot, lang, contact="514 555-0122")
    page.get_by_label(words["code"]).fill(sms_code("+15145550122"))
    page.get_by_role("button", name=words["confirm"]).click()
    assert page.locator("h1").inner_text() == words["booked"]
    assert page.get_by_role("status").inner_text() == words["sent_to"]


@BOTH
def test_an_email_with_an_accent_before_the_at_is_refused_beside_the_field(page, live_server, bookable, slot, lang):
    words = WORDS[lang]
    ask_code_for(page, live_server, slot, lang, contact="chloé@example.com")
    assert words["accent"] in page.locator("#contact_error").inner_text()
    assert page.get_by_label(re.compile("Email or mobile|Courriel ou")).get_attribute("aria-invalid") == "true"
    assert not Message.objects.exists()


def cancel(appointment):
    appointment.status = Appointment.Status.CANCELLED
    appointment.save()


@BOTH
@pytest.mark.parametrize("staff_do", [cancel, Appointment.delete], ids=["cancelled", "deleted"])
def test_the_booked_page_says_cancelled_once_the_appointment_is_cancelled_or_deleted(
    page, live_server, bookable, slot, lang, staff_do
):
    words = WORDS[lang]
    ask_code_for(page, live_server, slot, lang)
    page.get_by_label(words["code"]).fill(emailed("jean@example.com", CODE))
    page.get_by_role("button", name=words["confirm"]).click()
    assert page.locator("h1").inner_text() == words["booked"]
    staff_do(Appointment.objects.get())
    page.reload()
    assert page.locator("h1").inner_text() == words["cancelled"]


@BOTH
def test_a_patient_on_a_phone_moves_to_later_times_and_picks_a_date(
    page, live_server, bookable, service, professional, lang
):
    words = WORDS[lang]
    first_day = date(2026, 11, 24)
    for n in range(14):  # four a day from Tuesday: the 13th is on Friday
        make_slot(professional, service, datetime.combine(first_day + timedelta(days=n // 4), time(9 + n % 4), TORONTO))
    for days in range(13, 16):
        make_slot(professional, service, datetime.combine(first_day + timedelta(days=days), time(9), TORONTO))
    page.goto(f"{live_server.url}/prendre-rendez-vous/clinique-du-parc/service/{service.pk}/?lang={lang}")
    times = page.locator("ul.choices a")
    assert times.count() == 12 and words["first"] in times.first.inner_text()
    assert page.get_by_role("link", name=words["earlier"]).count() == 0
    page.get_by_role("link", name=words["later"]).click()
    assert words["thirteenth"] in page.locator("ul.choices a").first.inner_text() and fits_the_phone(page)
    screenshot(page, f"booking-9-later-times-{lang}")
    page.get_by_role("link", name=words["earlier"]).click()
    assert words["first"] in page.locator("ul.choices a").first.inner_text()
    page.get_by_label(words["from"]).fill("2026-12-07")
    page.get_by_role("button", name=words["show"]).click()
    assert words["picked"] in page.locator("ul.choices a").first.inner_text() and fits_the_phone(page)


@BOTH
def test_the_waiting_list_code_pages_button_says_it_joins_the_list(page, live_server, bookable, service, lang):
    words = WORDS[lang]
    page.goto(f"{live_server.url}/prendre-rendez-vous/clinique-du-parc/service/{service.pk}/?lang={lang}")
    page.get_by_role("link", name=re.compile(words["join"])).click()
    fill_details(page, "Anne", "Roy", "anne@example.com")
    page.get_by_role("button", name=words["send_code"]).click()
    page.get_by_label(words["code"]).fill(emailed("anne@example.com", CODE))
    assert page.get_by_role("button", name=words["confirm"]).count() == 0
    page.get_by_role("button", name=words["join_button"]).click()
    assert page.locator("h1").inner_text() == words["joined"]


@pytest.mark.parametrize(
    "lang, button, said",
    [
        ("fr", "Je prends ce rendez-vous", "vous avez déjà pris un rendez-vous grâce à la liste d’attente"),
        ("en", "I take this appointment", "you already booked an appointment from the waiting list"),
    ],
)
def test_after_taking_one_offer_the_other_offer_says_she_already_booked(
    page, clinic, service, professional, slot, patient, waiting, lang, button, said
):
    later = make_slot(professional, service, slot.start + timedelta(days=1))
    for each in (slot, later):  # two times freed after Anne and Bob joined (D21)
        appointment = book(each, patient)
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
    waitlist.waitlist_pass()
    send_due_messages()
    first, second = (
        OFFER_LINK.search(email.body).group(1) for email in mail.outbox if email.to == ["anne@example.com"]
    )
    page.goto(f"{first}?lang={lang}")
    page.get_by_role("button", name=button).click()
    page.goto(f"{second}?lang={lang}")
    assert said in page.locator("[role=status]").inner_text()
    assert page.get_by_role("button").count() == 0
    assert "Vous restez" not in page.content() and "You stay" not in page.content()
