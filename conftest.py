"""Shared fixtures: a connected clinic with one of everything, built fresh."""

import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from outbox.dispatch import send_due_messages
from patients.models import Patient
from schedules.models import Appointment, Clinic, Professional, Service, Slot

TORONTO = ZoneInfo("America/Toronto")


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Tests render admin pages without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The patient pages' rate limits count in the cache: no test inherits
    # another's requests.
    from django.core.cache import cache

    cache.clear()


def make_clinic(name: str = "Clinique du Parc", **fields) -> Clinic:
    fields = {"phone": "+15145550100", "hub_connected": True, **fields}
    return Clinic.objects.create(name=name, **fields)


def make_professional(clinic: Clinic, kind: str = Professional.Kind.GP, **fields) -> Professional:
    fields = {"first_name": "Marie", "last_name": "Tremblay", **fields}
    return Professional.objects.create(clinic=clinic, kind=kind, **fields)


def make_service(clinic: Clinic, category: str = Service.Category.IN_PERSON, **fields) -> Service:
    fields = {
        "name_fr": "Rendez-vous en clinique",
        "name_en": "In-clinic visit",
        "cancellation_delay": timedelta(hours=24),
        **fields,
    }
    return Service.objects.create(clinic=clinic, category=category, **fields)


def make_slot(professional: Professional, service: Service, start: datetime, minutes: int = 30) -> Slot:
    return Slot.objects.create(
        professional=professional, service=service, start=start, end=start + timedelta(minutes=minutes)
    )


def make_patient(clinic: Clinic, **fields) -> Patient:
    fields = {"first_name": "Jean", "last_name": "Roy", "language": "fr", "email": "jean@example.com", **fields}
    return Patient.objects.create(clinic=clinic, **fields)


def book(slot: Slot, patient: Patient, **fields) -> Appointment:
    return Appointment.objects.create(slot=slot, patient=patient, **fields)


@pytest.fixture
def clinic(db) -> Clinic:
    return make_clinic()


@pytest.fixture
def professional(clinic) -> Professional:
    return make_professional(clinic)


@pytest.fixture
def service(clinic) -> Service:
    return make_service(clinic)


# The suite's "today" for tests that read the clock without setting it: a
# week before the shared slot (December 3, 2026), whatever the real date.
TODAY = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)


def ahead(days: int = 10, hour: int = 14, minute: int = 30) -> datetime:
    """A time `days` ahead of the real clock, in Toronto: for tests whose
    workers are other processes, which no test clock reaches."""
    from datetime import time

    day = datetime.now(TORONTO).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=TORONTO)


@pytest.fixture
def today():
    import time_machine

    with time_machine.travel(TODAY, tick=True) as traveller:
        yield traveller


@pytest.fixture
def slot(professional, service) -> Slot:
    return make_slot(professional, service, datetime(2026, 12, 3, 14, 30, tzinfo=TORONTO))


@pytest.fixture
def patient(clinic) -> Patient:
    return make_patient(clinic)


def make_staff(clinic: Clinic | None, username: str = "accueil", group: str | None = None, password="x", **fields):
    """A back-office account in `group` (clinic staff by default), of `clinic` (none: support)."""
    from django.contrib.auth.models import Group, User

    from schedules.access import STAFF_GROUP

    user = User.objects.create_user(username, password=password, is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=group or STAFF_GROUP))
    if clinic is not None:
        clinic.staff.add(user)
    return user


@pytest.fixture
def staff(client, clinic):
    """A client logged in as a member of the clinic's staff."""
    client.force_login(make_staff(clinic))
    return client


class RecordingChannel:
    """Stands in for a provider: records every call, thread-safely, and can
    be told to fail."""

    calls: list = []
    failures: list = []  # TransportError instances to raise, in order
    lock = threading.Lock()

    def send(self, message) -> str:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.calls.append((message.pk, message.channel, message.to, message.content))
            return f"test-{len(self.calls)}"


@pytest.fixture
def channel_calls(settings) -> list:
    """Every channel call, as (message id, channel, to, content)."""
    RecordingChannel.calls = []
    RecordingChannel.failures = []
    settings.HUB_CHANNELS = dict.fromkeys(("email", "sms", "voice"), "conftest.RecordingChannel")
    return RecordingChannel.calls


def postgres_only(connection) -> None:
    """Skips on SQLite, unless HUB_REQUIRE_POSTGRES is set (CI): then fails."""
    if connection.vendor == "postgresql":
        return
    if os.environ.get("HUB_REQUIRE_POSTGRES"):
        pytest.fail("this test must run on PostgreSQL in CI")
    pytest.skip("needs PostgreSQL (set DATABASE_URL)")


# --- Browser tests: Debian's Chromium driven by Playwright -------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless; skipped locally when absent, a failure in
    CI (HUB_REQUIRE_BROWSER). Never a browser downloaded by a test tool."""
    if not CHROMIUM.exists():
        why = f"Chromium (Debian package chromium) is not installed: {CHROMIUM} is missing; run .ci/install-packages"
        if os.environ.get("HUB_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread, which Django
    # takes for an async context and refuses the ORM in (including the test
    # database flush). Nothing here is concurrent: the loop only talks to the
    # browser while the test waits, and the live server has its own thread.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_tab(browser, width: int, height: int, locale: str = "fr-CA"):
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return context, tab


@pytest.fixture
def page(browser):
    """A fresh phone-width tab, with no cookies from another test."""
    context, tab = open_tab(browser, 390, 844)
    yield tab
    context.close()


@pytest.fixture
def desktop(browser):
    """A fresh desktop-width tab, for the back office."""
    context, tab = open_tab(browser, 1280, 900)
    yield tab
    context.close()


def sign_in(context, url: str, user) -> None:
    """Logs `user` into the browser context by its session cookie (no login
    form: for tests about what a page shows, not about signing in)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": url}])


# axe-core, from the npm registry by .ci/install-packages (pinned there),
# into the git-ignored var/npm/: never downloaded by a test.
AXE = Path(__file__).resolve().parent / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Not a WCAG rule for axe, but what a screen reader announces on its own: a
# column header with no words.
ALSO_CHECKED = ["empty-table-header"]


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe-core's script; skipped locally when absent, a failure in CI
    (HUB_REQUIRE_BROWSER), as for Chromium."""
    if not AXE.exists():
        why = f"axe-core is not installed: {AXE} is missing; run .ci/install-packages"
        if os.environ.get("HUB_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)
    return AXE


def serious_violations(page, axe_script: Path) -> list[str]:
    """What axe-core finds on the page against WCAG 2.1 AA that is serious or
    critical (and any empty table header), one line per rule with the
    elements at fault."""
    page.add_script_tag(path=str(axe_script))
    options = {
        "runOnly": {"type": "tag", "values": WCAG_21_AA},
        "rules": {rule: {"enabled": True} for rule in ALSO_CHECKED},
    }
    results = page.evaluate("options => axe.run(document, options)", options)
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} at {[node['target'] for node in rule['nodes']]}"
        for rule in results["violations"]
        if rule["impact"] in ("serious", "critical") or rule["id"] in ALSO_CHECKED
    ]


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def mail_server(settings, channel_calls):
    """A real SMTP server on loopback that the Hub's email channel talks to;
    SMS and calls are recorded (`channel_calls`)."""
    from outbox.tests.mail_server import MailServer

    server = MailServer().start()
    settings.EMAIL_BACKEND = "outbox.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": "outbox.channels.Email"}
    yield server
    server.stop()


# --- The fault suite's table (outbox/tests/test_faults.py) -------------

FAULT_ROWS: list[tuple] = []


def fault_row(scenario: str, due: int, sent: int, duplicates: int, lost: int, unknown: int, withdrawn: int = 0) -> None:
    """One line of the fault suite's table: what happened to the messages due
    (withdrawn: no longer true when they could go, with the reason, D4)."""
    FAULT_ROWS.append((scenario, due, sent, duplicates, lost, unknown, withdrawn))


def pytest_terminal_summary(terminalreporter):
    if not FAULT_ROWS:
        return
    head = ("scenario", "due", "sent", "duplicates", "lost", "unknown", "withdrawn")
    width = max(len(head[0]), *(len(row[0]) for row in FAULT_ROWS))
    terminalreporter.section("fault suite")
    terminalreporter.write_line(f"{head[0]:<{width}}  " + "  ".join(f"{h:>10}" for h in head[1:]))
    for row in FAULT_ROWS:
        terminalreporter.write_line(f"{row[0]:<{width}}  " + "  ".join(f"{value:>10}" for value in row[1:]))


@pytest.fixture
def hub_on_live_server(settings, live_server):
    """Links in messages lead to the live server a browser test drives, with
    an empty cache and outbox."""
    from django.core import mail
    from django.core.cache import cache

    settings.HUB_PUBLIC_URL = live_server.url
    settings.ALLOWED_HOSTS = ["*"]
    cache.clear()
    mail.outbox.clear()
    yield
    cache.clear()


# --- The reply and webhook tests: an appointment texted at a known time -----

BOOKED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)
MOBILE, PHONE = "+15145550111", "+14505550111"


@pytest.fixture
def clock():
    with time_machine.travel(BOOKED_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def texted(clock, slot, clinic, channel_calls):
    """An appointment whose confirmation went out by SMS."""
    appointment = book(slot, make_patient(clinic, email="", mobile=MOBILE, phone=PHONE))
    send_due_messages()
    return appointment


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.HUB_PUBLIC_URL = "https://hub.example.org"


# --- The house's own modules (the architecture tests read them) -------------

PROJECT = Path(__file__).resolve().parent


def product_modules():
    """Every module a clinic's Hub runs: no tests, migrations or developer tools."""
    for path in sorted(PROJECT.glob("*/**/*.py")):
        parts = path.relative_to(PROJECT).parts
        if parts[0].startswith(".") or parts[0] in ("var", "devtools") or "tests" in parts or "migrations" in parts:
            continue
        yield path
