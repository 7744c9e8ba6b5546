"""Staff accounts a privacy officer accepts: a second factor, password
guessing locked out, idle sessions ended, strong passwords."""

import base64
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django.utils.http import urlencode
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice import two_factor
from conftest import TORONTO, make_clinic, make_staff
from schedules.access import STAFF_GROUP, SUPPORT_GROUP

pytestmark = pytest.mark.django_db

PASSWORD = "Rendez-vous-du-parc-2026"


def member(clinic, username: str = "accueil", group: str = STAFF_GROUP) -> User:
    return make_staff(clinic, username, group, password=PASSWORD, first_name="Julie", last_name="Roy")


def code_now(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp() + steps_ahead * device.step
    return f"{totp.token():06d}"


def enrolled(user) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    two_factor._confirm(device)
    return device


# --- The second factor ------------------------------------------------------


def test_it_is_required_by_default_when_debug_is_off():
    def required(**env) -> str:
        environment = {k: v for k, v in os.environ.items() if k not in ("HUB_REQUIRE_TWO_FACTOR", "DEBUG")}
        code = "import django; django.setup(); from django.conf import settings; print(settings.HUB_REQUIRE_TWO_FACTOR)"
        return subprocess.run(
            [sys.executable, "-c", code],
            env={**environment, "DJANGO_SETTINGS_MODULE": "hubsite.settings", "SECRET_KEY": "x", **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert required(DEBUG="0") == "True"
    assert required(DEBUG="1") == "False"
    assert required(DEBUG="0", HUB_REQUIRE_TWO_FACTOR="0") == "False"


@pytest.fixture
def required(settings):
    settings.HUB_REQUIRE_TWO_FACTOR = True


@pytest.mark.parametrize("page", ["/admin/", "/admin/patients/patient/", "/admin/schedules/agenda/"])
def test_no_admin_page_opens_before_the_second_step(client, clinic, required, page):
    client.force_login(member(clinic))
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/second-step/setup/?{urlencode({'next': page})}"


def test_enrolling_takes_a_working_code_and_gives_ten_single_use_recovery_codes(client, clinic, required):
    user = member(clinic)
    client.force_login(user)
    page = client.get("/admin/second-step/setup/?next=/admin/patients/patient/")
    secret = page.context["secret"].replace(" ", "")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert base64.b32decode(secret) == device.bin_key and "<svg" in page.content.decode()
    wrong = client.post("/admin/second-step/setup/", {"code": "000000", "next": "/admin/"})
    assert "Ce code ne fonctionne pas" in wrong.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):  # past the wait a wrong code costs
        done = client.post("/admin/second-step/setup/", {"code": code_now(device), "next": "/admin/patients/patient/"})
    codes = done.context["codes"]
    assert len(codes) == 10 == len(set(codes))
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == set(codes)
    assert client.get("/admin/patients/patient/").status_code == 200


def test_an_enrolled_member_types_a_code_at_each_login(client, clinic, required):
    user = member(clinic)
    device = enrolled(user)
    client.force_login(user)
    assert client.get("/admin/")["Location"] == "/admin/second-step/?next=%2Fadmin%2F"
    response = client.post("/admin/second-step/", {"code": code_now(device), "next": "/admin/"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_once_enrolled_the_code_is_asked_even_where_not_required(client, clinic, settings):
    settings.HUB_REQUIRE_TWO_FACTOR = False
    user = member(clinic)
    enrolled(user)
    client.force_login(user)
    assert client.get("/admin/")["Location"].startswith("/admin/second-step/")
    settings.HUB_REQUIRE_TWO_FACTOR = False
    other = member(clinic, "marc")
    client.force_login(other)
    assert client.get("/admin/").status_code == 200  # not enrolled, not required


def test_a_recovery_code_works_once(client, clinic, required):
    user = member(clinic)
    enrolled(user)
    code = StaticToken.objects.filter(device__user=user).first().token
    client.force_login(user)
    response = client.post("/admin/second-step/", {"code": code, "next": "/admin/"})
    assert response["Location"] == "/admin/"
    assert "9" in [str(m) for m in client.get("/admin/").context["messages"]][0]
    client.logout()
    client.force_login(user)
    again = client.post("/admin/second-step/", {"code": code, "next": "/admin/"})
    assert again.status_code == 200 and "Ce code ne fonctionne pas" in again.content.decode()


def test_wrong_codes_slow_the_next_tries_down(client, clinic, required):
    user = member(clinic)
    device = enrolled(user)
    client.force_login(user)
    client.post("/admin/second-step/", {"code": "000000"})
    client.post("/admin/second-step/", {"code": "111111"})
    right_but_too_soon = client.post("/admin/second-step/", {"code": code_now(device), "next": "/admin/"})
    assert right_but_too_soon.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_logging_out_from_the_second_step_works(client, clinic, required):
    client.force_login(member(clinic))
    assert client.post("/admin/logout/").status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_second_step_sends_nowhere_outside_the_hub(client, clinic, required):
    user = member(clinic)
    device = enrolled(user)
    client.force_login(user)
    response = client.post("/admin/second-step/", {"code": code_now(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


def test_support_reset_a_lost_second_factor(client, clinic, required):
    staff = member(clinic)
    enrolled(staff)
    support = member(clinic, "soutien", SUPPORT_GROUP)
    enrolled(support)
    client.force_login(support)
    client.post("/admin/second-step/", {"code": code_now(TOTPDevice.objects.get(user=support))})
    response = client.post(
        "/admin/auth/user/", {"action": "reset_second_factor", "_selected_action": [staff.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticToken.objects.filter(device__user=staff).exists()


# --- Password guessing ------------------------------------------------------


def log_in(username: str, password: str, address: str = "192.0.2.10", language: str = "fr"):
    return Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language).post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def test_an_account_is_locked_from_an_address_after_the_configured_number_of_wrong_passwords(clinic, limit):
    member(clinic)
    for _ in range(2):
        assert log_in("accueil", "wrong", "192.0.2.1").status_code == 200
    locked = log_in("accueil", "wrong", "192.0.2.1")
    assert locked.status_code == 429
    assert "Trop de mots de passe erronés" in locked.content.decode()
    # The right password, from that address: still locked.
    assert log_in("accueil", PASSWORD, "192.0.2.1").status_code == 429


def test_one_persons_wrong_passwords_never_lock_out_the_rest_of_the_clinic(clinic, limit):
    """Clinics sit behind one public address: the typos of `sherbrooke`
    lock `sherbrooke` from there, not `plateau`."""
    member(clinic, "sherbrooke")
    member(clinic, "plateau")
    for _ in range(3):
        log_in("sherbrooke", "wrong", "198.51.100.7")
    assert log_in("sherbrooke", PASSWORD, "198.51.100.7").status_code == 429
    assert log_in("plateau", PASSWORD, "198.51.100.7").status_code == 302


def test_wrong_passwords_for_many_accounts_from_one_address_lock_none_of_the_others(clinic, limit):
    member(clinic)
    for name in ("alice", "bob", "carol", "david"):
        log_in(name, "wrong", "198.51.100.7")
    assert log_in("accueil", PASSWORD, "198.51.100.7").status_code == 302


@pytest.fixture
def account_limit(settings, limit):
    settings.HUB_LOGIN_ACCOUNT_FAILURE_LIMIT = 6
    settings.HUB_LOGIN_ACCOUNT_WINDOW = timedelta(hours=24)


def test_an_account_guessed_from_many_addresses_is_locked_everywhere_over_a_longer_window(clinic, account_limit):
    member(clinic)
    member(clinic, "marc")
    start = timezone.now()
    for n, address in enumerate(("192.0.2.1", "192.0.2.2", "192.0.2.3")):
        with time_machine.travel(start + timedelta(hours=n)):
            for _ in range(2):  # under the limit of each address
                assert log_in("accueil", "wrong", address).status_code == 200
    with time_machine.travel(start + timedelta(hours=3)):
        assert log_in("accueil", PASSWORD, "192.0.2.4").status_code == 429
        assert log_in("marc", PASSWORD, "192.0.2.4").status_code == 302
    with time_machine.travel(start + timedelta(hours=24, minutes=1)):
        # The oldest two are out of the window: four remain, under six.
        assert log_in("accueil", PASSWORD, "192.0.2.4").status_code == 302


def test_the_account_wide_lock_says_until_when_the_oldest_counted_failure_leaves_the_window(clinic, account_limit):
    member(clinic)
    start = datetime(2026, 11, 23, 10, 5, tzinfo=TORONTO)
    for n, address in enumerate(("192.0.2.1", "192.0.2.2", "192.0.2.3")):
        with time_machine.travel(start + timedelta(hours=n), tick=False):
            for _ in range(2):
                log_in("accueil", "wrong", address)
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        locked = log_in("accueil", PASSWORD, "192.0.2.4", language="en")
    assert locked.status_code == 429
    assert "blocked until November 24, 2026 at 10:05 AM." in locked.content.decode()


def test_a_success_starts_the_account_count_again(clinic, account_limit):
    member(clinic)
    for address in ("192.0.2.1", "192.0.2.2"):
        for _ in range(2):
            log_in("accueil", "wrong", address)
    assert log_in("accueil", PASSWORD, "192.0.2.3").status_code == 302
    for _ in range(2):
        log_in("accueil", "wrong", "192.0.2.5")
    assert log_in("accueil", PASSWORD, "192.0.2.6").status_code == 302


def test_support_lift_both_locks_with_the_reset_command(clinic, account_limit):
    from django.core.management import call_command

    member(clinic)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        for _ in range(2):
            log_in("accueil", "wrong", address)
    log_in("accueil", "wrong", "192.0.2.1")
    assert log_in("accueil", PASSWORD, "192.0.2.1").status_code == 429
    call_command("axes_reset_username", "accueil", stdout=open(os.devnull, "w"))
    assert log_in("accueil", PASSWORD, "192.0.2.1").status_code == 302


def test_the_lock_lifts_after_the_cool_off(clinic, limit):
    member(clinic)
    for _ in range(3):
        log_in("accueil", "wrong")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert log_in("accueil", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "language, title, until, help_text",
    [
        ("fr", "Connexion bloquée pour le moment", "jusqu’à 10\u00a0h\u00a020 aujourd’hui", "soutien"),
        ("en", "Logging in is blocked for now", "until 10:20 AM today", "support"),
    ],
)
def test_the_lockout_page_says_in_the_readers_language_until_when_and_who_helps(
    clinic, limit, language, title, until, help_text
):
    member(clinic)
    with time_machine.travel(datetime(2026, 11, 23, 10, 5, tzinfo=TORONTO), tick=False):
        for _ in range(3):
            response = log_in("accueil", "wrong", language=language)
    page = response.content.decode()
    assert f"<title>{title} |" in page and f"<h1>{title}</h1>" in page
    assert until in page
    assert help_text in page


def test_the_lockout_page_tells_the_time_of_the_accounts_own_clinic(clinic, limit):
    islands = make_clinic("Clinique des Îles", timezone="America/Halifax")
    member(islands, "iles")
    with time_machine.travel(datetime(2026, 11, 23, 10, 5, tzinfo=TORONTO), tick=False):
        for _ in range(3):
            response = log_in("iles", "wrong")
    assert "jusqu’à 11\u00a0h\u00a020 aujourd’hui" in response.content.decode()


def test_a_success_clears_earlier_failures(clinic, limit):
    member(clinic)
    log_in("accueil", "wrong")
    log_in("accueil", "wrong")
    assert log_in("accueil", PASSWORD).status_code == 302
    assert log_in("accueil", "wrong").status_code == 200  # counting starts again


# --- Idle sessions ----------------------------------------------------------


def test_an_idle_session_ends_and_each_page_restarts_the_count(client, clinic, settings):
    settings.SESSION_COOKIE_AGE = 30 * 60
    client.force_login(member(clinic))
    start = timezone.now()
    with time_machine.travel(start + timedelta(minutes=25)):
        assert client.get("/admin/").status_code == 200  # active: the count restarts
    with time_machine.travel(start + timedelta(minutes=50)):
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=81)):
        response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_sessions_end_with_the_browser_and_after_30_idle_minutes_by_default():
    from django.conf import settings

    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE and settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_AGE == 30 * 60


# --- Strong passwords -------------------------------------------------------


@pytest.mark.parametrize(
    "password, refused",
    [
        ("court-1", True),  # fewer than 12 characters
        ("123456789012345", True),  # digits only
        ("password1234", True),  # a common one
        ("julie.roy@parc", True),  # too like the user's own email
        ("Rendez-vous-du-parc-2026", False),
    ],
)
def test_passwords_must_be_strong(clinic, password, refused):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    user = User(username="julie.roy", first_name="Julie", last_name="Roy", email="julie.roy@parc.example.org")
    try:
        validate_password(password, user)
    except ValidationError:
        assert refused
    else:
        assert not refused


def test_a_filtered_list_is_reached_whole_after_the_second_step(client, clinic, required):
    user = member(clinic)
    device = enrolled(user)
    client.force_login(user)
    wanted = "/admin/outbox/message/?state__exact=failed&kind__exact=reminder"
    asked = client.get(wanted)["Location"]
    form = client.get(asked)
    assert form.context["next"] == wanted
    done = client.post(asked, {"code": code_now(device), "next": form.context["next"]})
    assert done["Location"] == wanted


def test_without_a_known_address_only_the_account_is_locked(clinic, limit):
    """Behind a unix socket without TRUSTED_PROXIES every client reads as
    one address: locking it would lock everyone out."""
    member(clinic)
    member(clinic, "marc")
    for _ in range(3):
        log_in("accueil", "wrong", address="")
    assert log_in("accueil", PASSWORD, address="").status_code == 429
    assert log_in("marc", PASSWORD, address="").status_code == 302


def test_a_login_form_without_its_csrf_cookie_says_in_french_that_the_page_expired(clinic):
    member(clinic)
    refused = Client(enforce_csrf_checks=True).post(
        "/admin/login/", {"username": "accueil", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="fr-CA"
    )
    assert refused.status_code == 403
    assert "Cette page a expiré" in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_guessing_from_many_addresses_never_locks_the_account_where_its_owner_logs_in(clinic, account_limit):
    """An outsider who knows a clinic's login name cannot shut its staff
    out: the account-wide lock holds only at addresses the account has not
    logged in from lately; the pair lock still holds everywhere."""
    member(clinic)
    assert log_in("accueil", PASSWORD, "198.51.100.7").status_code == 302  # the clinic's own address
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        for _ in range(2):
            log_in("accueil", "wrong", address)
    assert log_in("accueil", PASSWORD, "192.0.2.4").status_code == 429
    assert log_in("accueil", PASSWORD, "198.51.100.7").status_code == 302


def test_an_address_known_long_ago_is_no_longer_spared(clinic, account_limit, settings):
    member(clinic)
    start = timezone.now()
    with time_machine.travel(start):
        assert log_in("accueil", PASSWORD, "198.51.100.7").status_code == 302
    with time_machine.travel(start + settings.HUB_LOGIN_KNOWN_ADDRESS_DAYS * timedelta(days=1) + timedelta(hours=1)):
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            for _ in range(2):
                log_in("accueil", "wrong", address)
        assert log_in("accueil", PASSWORD, "198.51.100.7").status_code == 429


def test_failed_logins_are_forgotten_after_a_month_and_logins_after_a_year(clinic):
    from axes.models import AccessFailureLog, AccessLog

    from hubsite.lockout import forget_old_attempts

    member(clinic)
    start = timezone.now()
    with time_machine.travel(start):
        log_in("accueil", "wrong", "192.0.2.1")
        log_in("accueil", PASSWORD, "192.0.2.1")
    with time_machine.travel(start + timedelta(days=29)):
        assert forget_old_attempts() == (0, 0)
    with time_machine.travel(start + timedelta(days=31)):
        assert forget_old_attempts() == (1, 0)
        assert not AccessFailureLog.objects.exists() and AccessLog.objects.exists()
    with time_machine.travel(start + timedelta(days=366)):
        assert forget_old_attempts() == (0, 1)
        assert not AccessLog.objects.exists()
