"""The clinic's booking page, through HTTP (D20, R20)."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from booking.models import BookingRequest, WaitlistEntry
from booking.tests.conftest import NOW
from confirmations.dispatch import send_due_messages
from confirmations.models import Message, OptOut
from conftest import book, make_clinic, make_patient, make_professional, make_service, make_slot, make_staff
from schedules.models import Appointment

pytestmark = pytest.mark.django_db

HOME = "/prendre-rendez-vous/clinique-du-parc/"


def page(client, url, **data):
    response = client.post(url, data) if data else client.get(url)
    return response, response.content.decode()


def ask_code(client, slot, contact="jean@example.com", first="Jean", last="Roy", lang="en"):
    return client.post(
        f"{HOME}plage/{slot.pk}/", {"lang": lang, "first_name": first, "last_name": last, "contact": contact}
    )


def last_code(contact="jean@example.com") -> str:
    return Message.objects.filter(kind="code", to=contact).latest("id").snapshot["code"]


class TestBrowsing:
    def test_the_page_lists_the_services_open_online_in_the_chosen_language(self, client, open_clinic, service, clock):
        make_service(open_clinic, name_fr="Vaccin", name_en="Vaccine")  # not open online
        response, html = page(client, f"{HOME}?lang=en")
        assert response.status_code == 200 and 'lang="en-CA"' in html
        assert "In-clinic visit" in html and "Vaccine" not in html
        assert "no-store" in response["Cache-Control"] and response["X-Robots-Tag"] == "noindex, nofollow"

    def test_french_by_default_for_a_french_browser(self, client, open_clinic, clock):
        _response, html = page(client, HOME)
        assert "Prendre rendez-vous" in html and 'lang="fr-CA"' in html

    @pytest.mark.parametrize("url", ["/prendre-rendez-vous/nowhere/", "/prendre-rendez-vous/clinique-du-parc/"])
    def test_an_unknown_or_closed_clinic_has_no_page(self, client, clinic, url):
        response, html = page(client, url)  # the clinic is not open online here
        assert response.status_code == 404 and "Cette page n’existe pas" in html

    def test_the_slots_are_the_free_ones_with_the_professional_chosen(
        self, client, open_clinic, service, professional, patient, clock
    ):
        julie = make_professional(open_clinic, first_name="Julie", last_name="Côté")
        mine = make_slot(professional, service, NOW + timedelta(days=1))
        hers = make_slot(julie, service, NOW + timedelta(days=2))
        book(make_slot(julie, service, NOW + timedelta(days=3)), patient)
        _response, html = page(client, f"{HOME}service/{service.pk}/?lang=fr")
        assert html.count('href="/prendre-rendez-vous/clinique-du-parc/plage/') == 2
        assert "mardi 24 novembre 2026 à 10\u00a0h" in html
        _response, html = page(client, f"{HOME}service/{service.pk}/?lang=fr&professional={julie.pk}")
        assert f"plage/{hers.pk}/" in html and f"plage/{mine.pk}/" not in html

    @pytest.mark.parametrize("chosen", ["abc", "99999999999999999999", "-1", "%00"])
    def test_a_malformed_professional_shows_the_first_available(
        self, client, open_clinic, service, slot, clock, chosen
    ):
        response, html = page(client, f"{HOME}service/{service.pk}/?professional={chosen}")
        assert response.status_code == 200 and f"plage/{slot.pk}/" in html

    def test_a_clinic_never_shows_another_clinics_service_or_slot(self, client, open_clinic, clock):
        elsewhere = make_clinic("Clinique du Nord", online_booking=True, booking_address="nord")
        theirs = make_service(elsewhere, online_booking=True)
        their_slot = make_slot(make_professional(elsewhere), theirs, NOW + timedelta(days=1))
        assert client.get(f"{HOME}service/{theirs.pk}/").status_code == 404
        assert client.get(f"{HOME}plage/{their_slot.pk}/").status_code == 404
        assert "Clinique du Nord" not in client.get(HOME).content.decode()

    @pytest.mark.parametrize("path", ["service/99999999999999999999/", "plage/99999999999999999999/", "plage/0/"])
    def test_extreme_ids_are_not_found(self, client, open_clinic, path):
        assert client.get(f"{HOME}{path}").status_code == 404


class TestBooking:
    def test_r20_a_patient_whose_record_says_french_books_in_english_and_is_confirmed_in_english(
        self, client, open_clinic, slot, patient, clock, channel_calls
    ):
        response = ask_code(client, slot)
        request = BookingRequest.objects.get()
        assert response.status_code == 302 and response["Location"] == f"{HOME}code/{request.public_id}/?lang=en"
        response, html = page(client, response["Location"])
        assert "We sent a 6-digit code to jean@example.com. It is valid for 10 minutes." in html
        response = client.post(f"{HOME}code/{request.public_id}/", {"lang": "en", "code": last_code()})
        assert response["Location"] == f"{HOME}reserve/{request.public_id}/?lang=en"
        _response, html = page(client, response["Location"])
        assert "Your appointment is booked" in html and "Thursday, December 3, 2026 at 2:30 PM" in html
        appointment = Appointment.objects.get()
        assert (appointment.patient, appointment.source, appointment.booking_language) == (patient, "online_hub", "en")
        send_due_messages()
        confirmation = Message.objects.get(kind="confirmation")
        assert confirmation.language == "en" and confirmation.to == "jean@example.com"

    def test_missing_or_bad_details_are_said_beside_each_field_and_send_nothing(self, client, open_clinic, slot, clock):
        response = client.post(f"{HOME}plage/{slot.pk}/", {"lang": "fr", "first_name": " ", "contact": "jean@"})
        html = response.content.decode()
        assert response.status_code == 200
        assert html.count("Ce champ est obligatoire.") == 2
        assert "Inscrivez un courriel ou un numéro de cellulaire canadien valide." in html
        assert not BookingRequest.objects.exists() and not Message.objects.exists()

    @pytest.mark.parametrize("lang, said", [("fr", "Cette page a expiré"), ("en", "This page has expired")])
    def test_a_form_without_its_csrf_cookie_is_refused_in_the_patients_language_and_sends_nothing(
        self, open_clinic, slot, clock, lang, said
    ):
        # A browser that lost its cookie, or a form posted from another site.
        strict = Client(enforce_csrf_checks=True)
        response = strict.post(
            f"{HOME}plage/{slot.pk}/", {"lang": lang, "first_name": "Jean", "last_name": "Roy", "contact": "j@x.ca"}
        )
        html = response.content.decode()
        assert response.status_code == 403
        assert said in html and "CSRF" not in html
        assert f'lang="{lang}-CA"' in html
        assert not BookingRequest.objects.exists() and not Message.objects.exists()

    @pytest.mark.parametrize(
        "typed, channel, to",
        [("514 555-0122", "sms", "+15145550122"), ("(514) 555-0122", "sms", "+15145550122"),
         ("Jean@Example.COM", "email", "Jean@example.com")],
    )  # fmt: skip
    def test_an_email_or_a_mobile_as_people_type_them(self, client, open_clinic, slot, clock, typed, channel, to):
        ask_code(client, slot, contact=typed)
        request = BookingRequest.objects.get()
        assert (request.contact_channel, request.contact) == (channel, to)

    def test_a_mobile_that_opted_out_of_sms_is_asked_for_an_email_instead_and_gets_nothing(
        self, client, open_clinic, slot, clock
    ):
        OptOut.objects.create(number="+15145550122")
        response = ask_code(client, slot, contact="514 555-0122", lang="fr")
        html = response.content.decode()
        assert response.status_code == 200
        assert "Ce numéro a demandé à ne plus recevoir nos textos" in html
        assert not BookingRequest.objects.exists() and not Message.objects.exists()

    def test_a_hub_sending_no_sms_asks_for_an_email_and_sends_nothing(self, client, open_clinic, slot, clock, settings):
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "sms": None}
        response = ask_code(client, slot, contact="514 555-0122", lang="en")
        assert "This clinic sends codes by email only: enter your email." in response.content.decode()
        assert not BookingRequest.objects.exists() and not Message.objects.exists()
        ask_code(client, slot, contact="jean@example.com", lang="en")
        assert Message.objects.get().channel == "email"

    def test_a_hub_sending_neither_email_nor_sms_has_no_booking_page(self, client, open_clinic, slot, clock, settings):
        # A code could reach nobody.
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": None, "sms": None}
        assert client.get(HOME).status_code == 404
        assert ask_code(client, slot).status_code == 404
        assert not Message.objects.exists()

    def test_a_hub_sending_no_email_asks_for_a_mobile(self, client, open_clinic, slot, clock, settings):
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": None}
        response = ask_code(client, slot, contact="jean@example.com", lang="fr")
        assert "Cette clinique envoie les codes par texto seulement" in response.content.decode()
        assert not Message.objects.exists()

    @pytest.mark.parametrize("username, group", [("accueil", None), ("soutien", "support")])
    def test_staff_and_support_see_that_a_code_was_sent_but_never_the_code(
        self, client, open_clinic, slot, clock, username, group
    ):
        from schedules.access import SUPPORT_GROUP

        ask_code(client, slot)
        send_due_messages()
        code = last_code()
        reader = Client()
        reader.force_login(make_staff(None if group else open_clinic, username, SUPPORT_GROUP if group else None))
        message = Message.objects.get(kind="code")
        listed = reader.get("/admin/confirmations/message/").content.decode()
        shown = reader.get(f"/admin/confirmations/message/{message.pk}/change/").content.decode()
        assert "jean@example.com" in listed and "jean@example.com" in shown
        assert not re.search(rf"\b{code}\b", listed) and not re.search(rf"\b{code}\b", shown)
        # Nor can it be guessed by filtering the list on what messages say.
        assert reader.get("/admin/confirmations/message/?kind=code").status_code == 200
        for lookup in (f"snapshot__code={code}", f"snapshot__code__gte={code}", f"content__contains={code}",
                       f"subject__icontains={code}", f"html__contains={code}", "error__isnull=False"):  # fmt: skip
            refused = reader.get(f"/admin/confirmations/message/?{lookup}")
            assert refused.status_code == 400, lookup
        assert "Le code à usage unique n’est pas affiché." in shown

    def test_wrong_code_says_so_and_the_request_stays_open(self, client, open_clinic, slot, clock):
        ask_code(client, slot, lang="fr")
        request = BookingRequest.objects.get()
        response = client.post(f"{HOME}code/{request.public_id}/", {"lang": "fr", "code": "1234567"})
        assert response.status_code == 400
        assert "Ce code n’est pas le bon." in response.content.decode()
        assert not Appointment.objects.exists()

    def test_another_browser_cannot_use_the_request(self, client, open_clinic, slot, clock):
        ask_code(client, slot)
        request = BookingRequest.objects.get()
        stranger = Client()
        assert stranger.get(f"{HOME}code/{request.public_id}/").status_code == 404
        assert stranger.post(f"{HOME}code/{request.public_id}/", {"code": last_code()}).status_code == 404
        assert not Appointment.objects.exists()

    def test_a_double_click_books_once(self, client, open_clinic, slot, clock):
        ask_code(client, slot)
        url = f"{HOME}code/{BookingRequest.objects.get().public_id}/"
        first, second = (client.post(url, {"lang": "en", "code": last_code()}) for _ in range(2))
        assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
        assert Appointment.objects.count() == 1

    def test_a_slot_taken_meanwhile_offers_the_next_ones_and_one_can_be_chosen(
        self, client, open_clinic, service, professional, slot, clinic, clock
    ):
        later = make_slot(professional, service, slot.start + timedelta(days=1))
        ask_code(client, slot, first="Anne", contact="anne@example.com")
        book(slot, make_patient(clinic))  # someone else, on the phone
        request = BookingRequest.objects.get()
        response = client.post(
            f"{HOME}code/{request.public_id}/", {"lang": "en", "code": last_code("anne@example.com")}
        )
        html = response.content.decode()
        assert response.status_code == 409 and "someone else has just booked this time" in html
        assert f'name="slot" value="{later.pk}"' in html and f'value="{slot.pk}"' not in html
        response = client.post(f"{HOME}choisir/{request.public_id}/", {"lang": "en", "slot": later.pk})
        assert response.status_code == 302
        assert Appointment.objects.get(slot=later).patient.first_name == "Anne"

    def test_too_many_upcoming_online_bookings_are_refused_with_the_clinics_phone(
        self, client, open_clinic, service, professional, slot, patient, clock
    ):
        for days in (1, 2):
            book(make_slot(professional, service, slot.start + timedelta(days=days)), patient, source="online_hub")
        ask_code(client, slot)
        url = f"{HOME}code/{BookingRequest.objects.get().public_id}/"
        response = client.post(url, {"lang": "en", "code": last_code()})
        assert response.status_code == 409
        assert (
            "You already have 2 upcoming appointments booked online at this clinic. To book another, call the clinic at 514 555-0100."
            in response.content.decode()
        )

    def test_six_upcoming_online_bookings_with_one_email_are_refused_whatever_the_name(
        self, client, open_clinic, service, professional, slot, clock
    ):
        from booking import online
        from booking.tests.test_online import verified

        for hour, name in enumerate(["Léa", "Noé", "Zoé", "Éli", "Ana", "Max"], start=1):
            extra = make_slot(professional, service, slot.start + timedelta(hours=hour))
            online.book(verified(open_clinic, extra, first=name), extra)
        ask_code(client, slot, first="Théo")
        url = f"{HOME}code/{BookingRequest.objects.get(first_name='Théo').public_id}/"
        response = client.post(url, {"lang": "fr", "code": last_code()})
        assert response.status_code == 409
        assert (
            "Ce courriel ou ce numéro a déjà servi à prendre 6 rendez-vous à venir en ligne à cette clinique. "
            "Pour en prendre un autre, appelez la clinique au 514 555-0100."
        ) in response.content.decode()


class TestLimits:
    def test_three_codes_an_hour_for_one_email(self, client, open_clinic, slot, clock, settings):
        assert settings.HUB_BOOKING_CODES_PER_CONTACT == "3/h"
        statuses = [ask_code(client, slot).status_code for _ in range(4)]
        assert statuses == [302, 302, 302, 429]
        assert Message.objects.filter(kind="code").count() == 3
        assert ask_code(client, slot, contact="anne@example.com").status_code == 302  # another email

    def test_asking_whether_a_mobile_opted_out_costs_a_try_like_a_code(self, client, open_clinic, slot, clock):
        # Opt-outs hold for every clinic of the Hub: the page must not
        # become a way to look a number up freely.
        OptOut.objects.create(number="+15145550122")
        statuses = [ask_code(client, slot, contact="514 555-0122").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]

    def test_ten_codes_an_hour_from_one_address(self, client, open_clinic, slot, clock, settings):
        assert settings.HUB_BOOKING_CODES_PER_ADDRESS == "10/h"
        statuses = [ask_code(client, slot, contact=f"p{n}@example.com").status_code for n in range(11)]
        assert statuses == [302] * 10 + [429]
        assert "Too many codes were asked for" in ask_code(client, slot, contact="z@example.com").content.decode()


class TestWaitingFromThePage:
    def join(self, client, service, **fields):
        data = {"lang": "en", "first_name": "Anne", "last_name": "Roy", "contact": "anne@example.com"}
        data |= {"earliest": "2026-11-30", "latest": "2026-12-10", **fields}
        return client.post(f"{HOME}service/{service.pk}/attente/", data)

    def test_when_no_time_suits_the_patient_joins_the_waiting_list_with_a_code(
        self, client, open_clinic, service, professional, clock
    ):
        assert f"service/{service.pk}/attente/" in client.get(f"{HOME}service/{service.pk}/").content.decode()
        response = self.join(client, service, professional=professional.pk)
        request = BookingRequest.objects.get()
        response = client.post(
            response["Location"].split("?")[0], {"lang": "en", "code": last_code("anne@example.com")}
        )
        html = client.get(response["Location"]).content.decode()
        assert "You are on the waiting list" in html
        assert "between Monday, November 30, 2026 and Thursday, December 10, 2026" in html
        entry = WaitlistEntry.objects.get()
        request.refresh_from_db()
        assert (entry.service, entry.professional, entry.patient.first_name, entry.language, request.entry) == (
            service,
            professional,
            "Anne",
            "en",
            entry,
        )

    @pytest.mark.parametrize(
        "earliest, latest",
        [("2026-11-22", "2026-11-30"), ("2026-12-10", "2026-12-01"), ("2026-12-01", "2027-06-01"), ("x", "")],
    )
    def test_dates_past_backwards_beyond_the_horizon_or_malformed_are_refused(
        self, client, open_clinic, service, clock, earliest, latest
    ):
        response = self.join(client, service, earliest=earliest, latest=latest)
        assert response.status_code == 200 and "Choose dates to come" in response.content.decode()
        assert not BookingRequest.objects.exists()


def test_the_demo_clinic_takes_bookings_online(client, db):
    from schedules.demo import load_demo

    load_demo()
    html = client.get("/prendre-rendez-vous/plateau/").content.decode()
    assert "Rendez-vous en clinique" in html and "Tâches administratives" not in html
