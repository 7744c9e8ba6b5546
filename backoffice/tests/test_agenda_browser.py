"""A receptionist's day in a real browser (issue 11, "Done when"), in French
and then in English: find the next free slot, book it from the agenda, see
the status change when the confirmation goes out, move the appointment and
cancel it from its page. Screenshots of the agenda go to
test-artifacts/screenshots/ (docs/ shows them)."""

from datetime import datetime, timedelta
from itertools import combinations

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from confirmations import tasks
from conftest import (
    TORONTO,
    book,
    make_patient,
    make_professional,
    make_service,
    make_slot,
    open_tab,
    screenshot,
    sign_in,
)
from history.dates import staff_moment
from hubsite.demo import load_demo
from schedules.access import STAFF_GROUP
from schedules.models import Appointment, Clinic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


WORDS = {
    "fr": {"today": "Aujourd’hui", "find": "Trouver la prochaine plage libre", "book": "Réserver",
           "sent": "Confirmation envoyée par courriel", "move": "Déplacer", "here": "Déplacer ici",
           "cancel": "Annuler le rendez-vous", "yes": "Oui, annuler le rendez-vous", "cancelled": "Annulé"},
    "en": {"today": "Today", "find": "Find the next free slot", "book": "Book",
           "sent": "Confirmation sent by email", "move": "Move", "here": "Move here",
           "cancel": "Cancel the appointment", "yes": "Yes, cancel the appointment", "cancelled": "Cancelled"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_receptionist_books_from_the_agenda_moves_and_cancels(browser, live_server, settings, clinic, language):
    settings.HUB_PUBLIC_URL = live_server.url
    words = WORDS[language]
    user = User.objects.create_user("accueil", password="mot-de-passe-demo", is_staff=True, first_name="Lucie")
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    tremblay = make_professional(clinic)
    gagnon = make_professional(clinic, first_name="Luc", last_name="Gagnon")
    visit = make_service(clinic, name_fr="Consultation", name_en="Visit")
    phone = make_service(clinic, category="phone", name_fr="Suivi téléphonique", name_en="Phone follow-up")
    tomorrow = timezone.localtime(timezone.now(), TORONTO).date() + timedelta(days=1)
    nine = datetime.combine(tomorrow, datetime.min.time().replace(hour=9), tzinfo=TORONTO)
    for hour in range(4):
        make_slot(tremblay, phone, nine + timedelta(hours=hour))
        make_slot(gagnon, visit if hour else phone, nine + timedelta(hours=hour, minutes=30))
    wanted = make_slot(gagnon, visit, nine + timedelta(days=1, hours=2))  # the first in-person slot after a full day
    for slot in list(gagnon.slots.filter(service=visit, start__lt=wanted.start)):
        slot.delete()
    patient = make_patient(clinic, first_name="Jean", last_name="Roy", email="jean@example.com", language=language)

    context, page = open_tab(browser, 1280, 900, locale="fr-CA" if language == "fr" else "en-CA")
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "accueil")
        page.fill("#id_password", "mot-de-passe-demo")
        page.click("input[type=submit]")
        page.wait_for_selector(f"text={words['today']}")

        # The next in-person slot, with anyone.
        page.goto(f"{live_server.url}/admin/schedules/agenda/")
        page.select_option("select[name=category]", "in_person")
        page.click(f"button:has-text('{words['find']}')")
        found = page.locator(f"#slot-{wanted.pk}")
        assert "found" in found.get_attribute("class")
        screenshot(page, f"agenda-{language}")

        # Book it from the agenda (R7: the slot pre-fills the form).
        found.locator("a.book").click()
        page.click("span[aria-labelledby='select2-id_patient-container']")
        page.fill(".select2-search__field", "Roy")
        page.click(f".select2-results__option:has-text('{patient}')")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist")
        appointment = Appointment.objects.get(slot=wanted)
        assert appointment.patient == patient

        # The worker sends the confirmation: the agenda shows it.
        tasks.send_due_messages()
        page.goto(f"{live_server.url}/admin/schedules/agenda/?day={wanted.start.astimezone(TORONTO).date()}")
        entry = page.locator(f"#slot-{wanted.pk}")
        assert words["sent"] in entry.inner_text() and "tone-sent" in entry.get_attribute("class")
        screenshot(page, f"agenda-sent-{language}")

        # Move it from its page, picking the new slot in the agenda.
        entry.locator("a").first.click()
        page.click(f".object-tools a:text-is('{words['move']}')")
        target = wanted.professional.slots.filter(start__gt=wanted.start).order_by("start").first() or make_slot(
            gagnon, visit, wanted.start + timedelta(hours=1)
        )
        page.goto(page.url.split("#")[0])  # the agenda in "move" mode
        page.locator(f"#slot-{target.pk} button.place").click()
        page.wait_for_selector(".messagelist")
        appointment.refresh_from_db()
        assert appointment.slot == target

        # Cancel it from its page, after the confirmation step.
        page.click(f".object-tools a:text-is('{words['cancel']}')")
        page.click(f"input[value='{words['yes']}']")
        page.wait_for_selector(".messagelist")
        appointment.refresh_from_db()
        assert appointment.status == "cancelled"
        assert words["cancelled"] in page.inner_text("body")
        page.goto(f"{live_server.url}/admin/schedules/agenda/?span=week&day={wanted.start.astimezone(TORONTO).date()}")
        screenshot(page, f"agenda-week-{language}")
    finally:
        context.close()


MOVE_WORDS = {
    "fr": {"today": "Aujourd’hui", "move": "Déplacer", "here": "Déplacer ici", "history": "Historique",
           "ask": "Déplacer dans une plage d’un autre service ?", "other": "Choisir une autre plage",
           "r16": "Si vous changez ensuite son service pour celui de la plage, le patient n’en sera pas avisé", "moved": "Déplacé du ",
           "phone": "Suivi téléphonique", "home": "Visite à domicile"},
    "en": {"today": "Today", "move": "Move", "here": "Move here", "history": "History",
           "ask": "Move into a slot of another service?", "other": "Choose another slot",
           "r16": "If you then change its service to the slot’s, the patient will not be told of it", "moved": "Moved from ",
           "phone": "Phone follow-up", "home": "Home visit"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_move_offers_the_same_service_first_warns_before_another_and_shows_in_the_history(
    browser, live_server, clinic, language
):
    words = MOVE_WORDS[language]
    user = User.objects.create_user("accueil", password="mot-de-passe-demo", is_staff=True, first_name="Lucie")
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    tremblay = make_professional(clinic)
    phone = make_service(clinic, category="phone", name_fr="Suivi téléphonique", name_en="Phone follow-up")
    home = make_service(clinic, category="home", name_fr="Visite à domicile", name_en="Home visit")
    tomorrow = timezone.localtime(timezone.now(), TORONTO).date() + timedelta(days=1)
    nine = datetime.combine(tomorrow, datetime.min.time().replace(hour=9), tzinfo=TORONTO)
    booked = make_slot(tremblay, phone, nine)
    home_visit = make_slot(tremblay, home, nine + timedelta(hours=1))  # sooner, but another service
    same = make_slot(tremblay, phone, nine + timedelta(hours=3))
    patient = make_patient(clinic, email="jean@example.com", language=language)
    appointment = Appointment.objects.create(slot=booked, patient=patient)

    context, page = open_tab(browser, 1280, 900, locale="fr-CA" if language == "fr" else "en-CA")
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "accueil")
        page.fill("#id_password", "mot-de-passe-demo")
        page.click("input[type=submit]")
        page.wait_for_selector(f"text={words['today']}")
        page.goto(f"{live_server.url}/admin/schedules/appointment/{appointment.pk}/change/")
        page.click(f".object-tools a:text-is('{words['move']}')")

        # The same service first, with its name; the home visit only in the grid.
        first = page.locator("#compatible-slots li").first
        assert words["phone"] in first.inner_text()
        assert words["home"] not in page.locator("#compatible-slots").inner_text()
        assert words["home"] in page.locator(f"#slot-{home_visit.pk}").inner_text()
        screenshot(page, f"agenda-move-{language}")

        # Into the home visit: asked first (R16), nothing moved; back to the agenda.
        page.locator(f"#slot-{home_visit.pk} button.place").click()
        page.wait_for_selector(f"h1:text-is('{words['ask']}')")
        assert words["r16"] in page.inner_text("body")
        screenshot(page, f"move-other-service-{language}")
        appointment.refresh_from_db()
        assert appointment.slot == booked
        page.click(f"text={words['other']}")
        first = page.locator("#compatible-slots li").first
        first.locator("button.place").click()
        page.wait_for_selector(".messagelist")
        appointment.refresh_from_db()
        assert appointment.slot == same

        # The History button tells the move, with the old and the new time.
        page.click(f".object-tools a:text-is('{words['history']}')")
        story = page.locator("#change-history").inner_text()
        was, now = (staff_moment(moment, "America/Toronto", language) for moment in (booked.start, same.start))
        assert f"{words['moved']}{was} {'au' if language == 'fr' else 'to'} {now}." in story
        screenshot(page, f"appointment-history-{language}")
    finally:
        context.close()


LOCALES = {"fr": "fr-CA", "en": "en-CA"}


NEXT_WEEK = {"fr": "Semaine suivante", "en": "Next week"}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_week_of_seven_professionals_fits_a_1080_pixel_screen(browser, live_server, language):
    load_demo()
    plateau = Clinic.objects.get(booking_address="plateau")
    assert plateau.professionals.count() == 7
    week = timezone.localdate(timezone=plateau.zone) + timedelta(days=7)  # a whole week of demo slots
    context, page = open_tab(browser, 1920, 1080, locale=LOCALES[language])
    try:
        sign_in(context, live_server.url, User.objects.get(username="plateau"))
        page.goto(f"{live_server.url}/admin/schedules/agenda/?span=week&day={week}")
        assert NEXT_WEEK[language] in page.inner_text("nav.agenda-nav")
        assert page.locator("li.entry[id^=slot-]").count() == 7 * 5 * 6  # every slot is there
        screenshot(page, f"agenda-week-demo-{language}")
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 1080, f"the week is {height} px tall"
    finally:
        context.close()


def lab(rgb: str) -> tuple[float, float, float]:
    """CIE L*a*b* of a CSS "rgb(r, g, b)" colour (D65)."""
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def colour_distance(one: str, other: str) -> float:
    """CIE76 ΔE: about 2 is barely seen side by side; above 10 is another colour at a glance."""
    return sum((x - y) ** 2 for x, y in zip(lab(one), lab(other), strict=True)) ** 0.5


@pytest.mark.parametrize("span", ["day", "week"])
def test_each_state_has_its_own_colour_and_its_own_mark_not_colour_alone(browser, live_server, clinic, span):
    doctor, visit = make_professional(clinic), make_service(clinic)
    tomorrow = timezone.localtime(timezone.now(), TORONTO).date() + timedelta(days=1)
    nine = datetime.combine(tomorrow, datetime.min.time().replace(hour=9), tzinfo=TORONTO)
    statuses = [Appointment.Status.BOOKED, Appointment.Status.SENT_SMS, Appointment.Status.CONFIRMED_EMAIL]
    slots = [make_slot(doctor, visit, nine + timedelta(minutes=30 * n)) for n in range(5)]
    for slot, status in zip(slots, statuses, strict=False):
        book(slot, make_patient(clinic, last_name=status), status=status)
    book(None, make_patient(clinic, last_name="Parti"), professional=doctor, service=visit,
         start=nine + timedelta(hours=4), end=nine + timedelta(hours=4, minutes=20), status="cancelled")  # fmt: skip
    past = make_slot(doctor, visit, timezone.now() - timedelta(hours=1))
    staff = User.objects.create_user("accueil", is_staff=True)
    staff.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(staff)
    context, page = open_tab(browser, 1920, 1080, locale="fr-CA")
    try:
        sign_in(context, live_server.url, staff)
        looks = {}
        for day in (tomorrow, timezone.localtime(past.start, TORONTO).date()):
            page.goto(f"{live_server.url}/admin/schedules/agenda/?span={span}&day={day}")
            for line in page.locator("table.agenda li.entry").all():
                tone = next(name for name in line.get_attribute("class").split() if name.startswith("tone-"))
                mark = "".join(line.locator(":scope > .mark").all_inner_texts()).strip()
                said = "".join(line.locator(":scope > .label").all_text_contents()).strip()
                looks[tone] = (line.evaluate("e => getComputedStyle(e).backgroundColor"), mark, said)
        assert set(looks) == {f"tone-{t}" for t in ("free", "booked", "sent", "confirmed", "cancelled", "past")}
        for one, other in combinations(looks, 2):
            distance = colour_distance(looks[one][0], looks[other][0])
            assert distance >= 12, f"{one} and {other} look alike (ΔE {distance:.1f})"
        marks = [mark for _colour, mark, _said in looks.values()]
        assert all(marks) and len(set(marks)) == len(marks), looks  # a symbol per state, seen
        assert all(said for _colour, _mark, said in looks.values()), looks  # and its words, heard
        legend = page.locator(".legend").inner_text()
        assert all(mark in legend for mark in marks)
    finally:
        context.close()
