"""Staff sign-in in a real browser (Debian Chromium): the second step set up
and used, the lockout after wrong passwords, the idle session ended."""

import base64
import time

import pytest
from django.contrib.auth.models import Group, User
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken

from conftest import screenshot
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


def test_logins_are_refused_after_the_configured_number_of_wrong_passwords(
    desktop, live_server, settings, receptionist
):
    settings.AXES_FAILURE_LIMIT = 3
    page = desktop
    for _ in range(2):
        log_in(page, live_server.url, password="pas-le-bon")
        assert page.locator(".errornote").count() == 1  # Django's "wrong password"
    log_in(page, live_server.url, password="pas-le-bon")
    page.wait_for_selector("text=Trop de mots de passe erronés")
    screenshot(page, "login-locked")
    log_in(page, live_server.url)  # even the right password, for now
    assert page.locator("text=Trop de mots de passe erronés").count() == 1


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
