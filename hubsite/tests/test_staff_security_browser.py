"""Staff sign-in in a real browser (Debian Chromium): the second step set up
and used, the lockout after wrong passwords, the idle session ended."""

import base64
import time

import pytest
from django.contrib.auth.models import Group, User
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken

from conftest import open_tab, screenshot
from schedules.access import STAFF_GROUP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Rendez-vous-du-parc-2026"


@pytest.fixture
def receptionist(clinic):
    user = User.objects.create_user("accueil", password=PASSWORD, is_staff=True, first_name="Lucie")
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    return user


def log_in(page, url: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", "accueil")
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def code_from(secret_shown: str) -> str:
    key = base64.b32decode(secret_shown.replace(" ", ""))
    return f"{TOTP(key).token():06d}"


def test_a_staff_member_must_set_up_then_use_a_second_step(desktop, live_server, settings, receptionist):
    settings.HUB_REQUIRE_TWO_FACTOR = True
    page = desktop
    log_in(page, live_server.url)
    page.wait_for_url("**/admin/second-step/setup/**")
    assert page.locator(".hub-qr svg").count() == 1
    screenshot(page, "second-step-setup")

    # Nothing else opens meanwhile.
    page.goto(f"{live_server.url}/admin/patients/patient/")
    page.wait_for_url("**/admin/second-step/setup/**")

    page.fill("#id_code", code_from(page.inner_text("#secret")))
    page.click("input[type=submit]")
    codes = page.locator(".hub-recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.click("text=Je les ai notés")
    page.wait_for_url("**/admin/patients/patient/")

    # The next login asks for a code; a wrong one is refused, a recovery code works once.
    page.click("#logout-form button")
    log_in(page, live_server.url)
    page.wait_for_url("**/admin/second-step/?next=**")
    screenshot(page, "second-step")
    page.fill("#id_code", "000000")
    page.click("input[type=submit]")
    assert page.locator("text=Ce code ne fonctionne pas").count() == 1
    time.sleep(2)  # each wrong code makes the next try wait a moment
    page.fill("#id_code", codes[0])
    page.click("input[type=submit]")
    page.wait_for_selector("text=Aujourd’hui")
    assert "il en reste 9" in page.content()
    assert not StaticToken.objects.filter(device__user=receptionist, token=codes[0]).exists()


LOCKED = {
    "fr": ("fr-CA", "Connexion bloquée pour le moment", "Trop de mots de passe erronés", "aujourd’hui", "soutien"),
    "en": ("en-CA", "Logging in is blocked for now", "Too many wrong passwords", "today", "support"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_logins_are_refused_after_the_configured_number_of_wrong_passwords_and_the_page_says_until_when(
    browser, live_server, settings, receptionist, clinic, language
):
    settings.AXES_FAILURE_LIMIT = 3
    locale, title, said, today, helper = LOCKED[language]
    colleague = User.objects.create_user("plateau", password=PASSWORD, is_staff=True, first_name="Marc")
    colleague.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(colleague)
    context, page = open_tab(browser, 1280, 900, locale=locale)
    try:
        for _ in range(2):
            log_in(page, live_server.url, password="pas-le-bon")
            assert page.locator(".errornote").count() == 1  # Django's "wrong password"
        log_in(page, live_server.url, password="pas-le-bon")
        page.wait_for_selector(f"text={said}")
        assert page.title().startswith(title)
        assert page.locator("h1").inner_text() == title
        assert today in page.locator(".errornote").inner_text()
        assert helper in page.content()
        if language == "fr":
            screenshot(page, "login-locked")
        log_in(page, live_server.url)  # even the right password, for now
        assert page.locator(f"text={said}").count() == 1
        # A colleague at the same desk (the same address) still gets in.
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "plateau")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
    finally:
        context.close()


def test_an_idle_session_ends(desktop, live_server, settings, receptionist):
    settings.SESSION_COOKIE_AGE = 3  # seconds, for the test; 30 minutes by default
    page = desktop
    log_in(page, live_server.url)
    page.wait_for_selector("text=Aujourd’hui")
    time.sleep(1.5)
    page.goto(f"{live_server.url}/admin/")  # activity: the count starts again
    page.wait_for_selector("text=Aujourd’hui")
    time.sleep(4)
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_url("**/admin/login/?next=/admin/")
