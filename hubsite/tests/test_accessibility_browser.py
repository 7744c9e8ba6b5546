"""Every page the Hub draws or overrides, checked by axe-core against WCAG
2.1 AA in Chromium, in French and in English: no serious or critical
violation. axe-core comes from the npm registry through .ci/install-packages
(conftest.py finds it in var/npm/; never downloaded by a test).

Each case reaches its page as a person would (a link, a form, a wrong
password), so the test follows the pages as they change; the checks are
axe's, not this file's.
"""

import base64
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking import offers
from booking.models import Offer, WaitlistEntry
from confirmations import links
from conftest import book, make_patient, make_slot, open_tab, serious_violations, sign_in
from outbox.dispatch import send_due_messages
from outbox.models import Message, Reply
from schedules.access import STAFF_GROUP
from schedules.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("today")]

LOCALES = {"fr": "fr-CA", "en": "en-CA"}
CODE = re.compile(r"\b(\d{6})\b")
PASSWORD = "Rendez-vous-du-parc-2026"


@pytest.fixture(autouse=True)
def on_live_server(hub_on_live_server):
    pass


@pytest.fixture
def world(clinic, service, professional, slot, patient):
    """A clinic open online with a day of every kind: free, booked and
    messaged slots, a failed message, a reply to handle, a waiting patient
    with an offer; and a receptionist."""
    clinic.online_booking, clinic.booking_address = True, "clinique-du-parc"
    clinic.save()
    service.online_booking = True
    service.save()
    free = make_slot(professional, service, slot.start + timedelta(hours=1))
    appointment = book(slot, patient)
    unreachable = book(
        make_slot(professional, service, slot.start + timedelta(hours=2)),
        make_patient(clinic, first_name="Léa", last_name="Côté", email="", mobile="", phone=""),
    )
    send_due_messages()
    message = Message.objects.get(appointment=appointment, state=Message.State.SENT)
    # A reminder answered: the start page draws its confirmation rates.
    Message.objects.filter(pk=message.pk).update(kind=Message.Kind.REMINDER)
    appointment.refresh_from_db()
    appointment.status = Appointment.Status.CONFIRMED_EMAIL
    appointment.save()
    Reply.objects.create(channel="sms", number="+15145550111", body="Peut-être", clinic=clinic, outcome="unclear")
    entry = WaitlistEntry.objects.create(
        clinic=clinic,
        patient=make_patient(clinic, first_name="Alice", last_name="Roy", email="alice@example.com"),
        service=service,
        earliest=slot.start.date(),
        latest=slot.start.date() + timedelta(days=7),
    )
    offer = Offer.objects.create(
        entry=entry, slot=free, slot_start=free.start, expires_at=timezone.now() + timedelta(hours=2)
    )
    staff = User.objects.create_user("accueil", password=PASSWORD, is_staff=True, first_name="Lucie")
    staff.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(staff)
    return {
        "failed": Message.objects.get(appointment=unreachable, state=Message.State.FAILED),
        "staff": staff,
        "slot": slot,
        "free": free,
        "appointment": appointment,
        "unreachable": unreachable,
        "message": message,
        "reply": Reply.objects.get(),
        "offer": offer,
        "patient": appointment.patient,
    }


# --- How each page is reached (tab, world, language, live server URL) ---------


def admin_page(path):
    def reach(tab, world, language, url):
        sign_in(tab.context, url, world["staff"])
        tab.goto(url + path(world))

    return reach


def public_page(path):
    def reach(tab, world, language, url):
        target = path(world, language)  # a path, or a whole link from a message
        tab.goto(target if target.startswith("http") else url + target)

    return reach


def booking_url(rest: str, language: str) -> str:
    return f"/prendre-rendez-vous/clinique-du-parc/{rest}?lang={language}"


def fill_details(tab) -> None:
    tab.get_by_label(re.compile("First name|Prénom")).fill("Jean")
    tab.get_by_label(re.compile("Last name|Nom de famille")).fill("Roy")
    tab.get_by_label(re.compile("Email or mobile|Courriel ou")).fill("jean@example.com")


def booking_code_page(tab, world, language, url):
    tab.goto(url + booking_url(f"plage/{world['free'].pk}/", language))
    fill_details(tab)
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_selector("input[name=code]")


def booking_wrong_code(tab, world, language, url):
    booking_code_page(tab, world, language, url)
    tab.fill("input[name=code]", "000000")
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_load_state()


def booking_done(tab, world, language, url):
    booking_code_page(tab, world, language, url)
    send_due_messages()
    tab.fill("input[name=code]", CODE.search(mail.outbox[-1].body).group(1))
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_url("**/reserve/**")


def booking_taken(tab, world, language, url):
    booking_code_page(tab, world, language, url)
    send_due_messages()
    book(world["free"], make_patient(world["slot"].professional.clinic, last_name="Autre"))  # someone else, meanwhile
    tab.fill("input[name=code]", CODE.search(mail.outbox[-1].body).group(1))
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_load_state()


def waitlist_joined(tab, world, language, url):
    tab.goto(url + booking_url(f"service/{world['slot'].service_id}/attente/", language))
    fill_details(tab)
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_selector("input[name=code]")
    send_due_messages()
    tab.fill("input[name=code]", CODE.search(mail.outbox[-1].body).group(1))
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_url("**/reserve/**")


def booking_details_refused(tab, world, language, url):
    tab.goto(url + booking_url(f"plage/{world['free'].pk}/", language))
    tab.get_by_label(re.compile("Email or mobile|Courriel ou")).fill("not an address")
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_load_state()


def waitlist_refused(tab, world, language, url):
    tab.goto(url + booking_url(f"service/{world['slot'].service_id}/attente/", language))
    tab.get_by_label(re.compile("Email or mobile|Courriel ou")).fill("not an address")
    tab.locator("form button[type=submit], form input[type=submit]").last.click()
    tab.wait_for_load_state()


def locked_out(tab, world, language, url):
    for _attempt in range(2):  # AXES_FAILURE_LIMIT is 2 in this test
        tab.goto(f"{url}/admin/login/")
        tab.fill("#id_username", "accueil")
        tab.fill("#id_password", "pas-le-bon")
        with tab.expect_response(lambda response: response.request.method == "POST") as answer:
            tab.click("input[type=submit]")
    assert answer.value.status == 429  # the lockout page, not the login form again


def second_step_setup(tab, world, language, url):
    sign_in(tab.context, url, world["staff"])
    tab.goto(f"{url}/admin/")
    tab.wait_for_url("**/admin/second-step/setup/**")


def recovery_codes(tab, world, language, url):
    second_step_setup(tab, world, language, url)
    key = base64.b32decode(tab.inner_text("#secret").replace(" ", ""))
    tab.fill("#id_code", f"{TOTP(key).token():06d}")
    tab.click("input[type=submit]")
    tab.wait_for_selector(".hub-recovery-codes")


def second_step(tab, world, language, url):
    TOTPDevice.objects.create(user=world["staff"], name="authenticator", confirmed=True)
    sign_in(tab.context, url, world["staff"])
    tab.goto(f"{url}/admin/")
    tab.wait_for_url("**/admin/second-step/?next=**")


def second_step_refused(tab, world, language, url):
    second_step(tab, world, language, url)
    tab.fill("#id_code", "000000")
    tab.click("input[type=submit]")
    tab.wait_for_load_state()


def patient_link(action):
    return public_page(
        lambda w, language: links.url_for(w["appointment"].public_id, w["patient"].public_id, action, language)
    )


PAGES = {
    # The back office.
    "start page": admin_page(lambda w: "/admin/"),
    "agenda, day": admin_page(lambda w: f"/admin/schedules/agenda/?day={w['slot'].start.date()}"),
    "agenda, week": admin_page(lambda w: f"/admin/schedules/agenda/?span=week&day={w['slot'].start.date()}"),
    "appointment, add": admin_page(lambda w: "/admin/schedules/appointment/add/"),
    "appointment, add in a slot": admin_page(lambda w: f"/admin/schedules/appointment/add/?slot={w['free'].pk}"),
    "appointment, change": admin_page(lambda w: f"/admin/schedules/appointment/{w['appointment'].pk}/change/"),
    "appointment, move": admin_page(lambda w: f"/admin/schedules/appointment/{w['appointment'].pk}/move/"),
    "appointment, copy": admin_page(lambda w: f"/admin/schedules/appointment/{w['appointment'].pk}/copy/"),
    "appointment, cancel": admin_page(lambda w: f"/admin/schedules/appointment/{w['appointment'].pk}/cancel/"),
    "appointment, history": admin_page(lambda w: f"/admin/schedules/appointment/{w['appointment'].pk}/history/"),
    "appointment, outside the Hub": admin_page(lambda w: f"/admin/schedules/appointment/{w['unreachable'].pk}/change/"),
    "appointments": admin_page(lambda w: "/admin/schedules/appointment/"),
    "slots": admin_page(lambda w: "/admin/schedules/slot/"),
    "slot, add": admin_page(lambda w: "/admin/schedules/slot/add/"),
    "slot, change": admin_page(lambda w: f"/admin/schedules/slot/{w['free'].pk}/change/"),
    "slots, series": admin_page(lambda w: "/admin/schedules/slot/series/"),
    "slots, close a day": admin_page(lambda w: "/admin/schedules/slot/close/"),
    "patients": admin_page(lambda w: "/admin/patients/patient/"),
    "patient, add": admin_page(lambda w: "/admin/patients/patient/add/"),
    "patient, change": admin_page(lambda w: f"/admin/patients/patient/{w['patient'].pk}/change/"),
    "messages": admin_page(lambda w: "/admin/outbox/message/"),
    "message": admin_page(lambda w: f"/admin/outbox/message/{w['message'].pk}/change/"),
    "message, send again": admin_page(lambda w: f"/admin/outbox/message/{w['failed'].pk}/send-again/"),
    "replies": admin_page(lambda w: "/admin/outbox/reply/"),
    "reply": admin_page(lambda w: f"/admin/outbox/reply/{w['reply'].pk}/change/"),
    # Staff sign-in.
    "lockout": locked_out,
    "second step, setup": second_step_setup,
    "second step, recovery codes": recovery_codes,
    "second step": second_step,
    "second step, wrong code": second_step_refused,
    # The patient pages (links in messages).
    "patient page, cancel": patient_link(links.CANCEL),
    "patient page, confirm": patient_link(links.CONFIRM),
    "patient page, bad link": public_page(lambda w, language: "/rendez-vous/annuler/not-a-token/"),
    # Online booking and the waiting list.
    "booking, services": public_page(lambda w, language: booking_url("", language)),
    "booking, times": public_page(lambda w, language: booking_url(f"service/{w['slot'].service_id}/", language)),
    "booking, details": public_page(lambda w, language: booking_url(f"plage/{w['free'].pk}/", language)),
    "booking, details refused": booking_details_refused,
    "booking, code": booking_code_page,
    "booking, wrong code": booking_wrong_code,
    "booking, booked": booking_done,
    "booking, taken meanwhile": booking_taken,
    "booking, unknown clinic": public_page(lambda w, language: f"/prendre-rendez-vous/nowhere/?lang={language}"),
    "waiting list, join": public_page(
        lambda w, language: booking_url(f"service/{w['slot'].service_id}/attente/", language)
    ),
    "waiting list, join refused": waitlist_refused,
    "waiting list, joined": waitlist_joined,
    "waiting list, offer": public_page(lambda w, language: f"{offers.link(w['offer'])}?lang={language}"),
    # the error pages
    "page not found": public_page(lambda w, language: "/nulle-part/"),
    "access denied": admin_page(lambda w: "/admin/auth/user/"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("name", PAGES)
def test_no_serious_or_critical_wcag_21_aa_violation(browser, axe, live_server, settings, world, name, language):
    settings.AXES_FAILURE_LIMIT = 2
    settings.HUB_REQUIRE_TWO_FACTOR = name.startswith("second step")
    context, tab = open_tab(browser, 1280, 900, locale=LOCALES[language])
    try:
        PAGES[name](tab, world, language, live_server.url)
        assert tab.locator("html").get_attribute("lang").startswith(language), f"{tab.url} is not in {language}"
        violations = serious_violations(tab, axe)
    finally:
        context.close()
    assert violations == [], f"{name} ({tab.url}):\n" + "\n".join(violations)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_confirmation_rates_are_read_out_with_their_links(browser, live_server, world, language):
    context, tab = open_tab(browser, 1280, 900, locale=LOCALES[language])
    try:
        sign_in(context, live_server.url, world["staff"])
        tab.goto(f"{live_server.url}/admin/")
        heard = tab.locator(".hub-bars").aria_snapshot()  # what assistive technology is given
        assert re.search(r"link \"100\s%\"", heard), heard  # one reminder by email, confirmed
        assert "img" not in heard, heard  # a picture would hide its links
    finally:
        context.close()
