"""The clinic's booking page, through HTTP (D20, R20)."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from booking.models import BookingRequest, WaitlistEntry
from booking.tests.conftest import NOW
from conftest import book, make_clinic, make_patient, make_professional, make_service, make_slot, make_staff
from outbox.dispatch import send_due_messages
from outbox.models import Message, OptOut
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
        listed = reader.get("/admin/outbox/message/").content.decode()
        shown = reader.get(f"/admin/outbox/message/{message.pk}/change/").content.decode()
        assert "jean@example.com" in listed and "jean@example.com" in shown
        assert not re.search(rf"\b{code}\b", listed) and not re.search(rf"\b{code}\b", shown)
        # Nor can it be guessed by filtering the list on what messages say.
        assert reader.get("/admin/outbox/message/?kind=code").status_code == 200
        for lookup in (f"snapshot__code={code}", f"snapshot__code__gte={code}", f"content__contains={code}",
                       f"subject__icontains={code}", f"html__contains={code}", "error__isnull=False"):  # fmt: skip
            refused = reader.get(f"/admin/outbox/message/?{lookup}")
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

    def test_a_service_closed_online_after_the_code_was_asked_joins_no_list_and_says_so(
        self, client, open_clinic, service, clock
    ):
        vaccine = make_service(open_clinic, name_fr="Vaccin", name_en="Vaccine", online_booking=True)
        response = self.join(client, service)
        service.online_booking = False
        service.save()
        response = client.post(
            response["Location"].split("?")[0], {"lang": "en", "code": last_code("anne@example.com")}
        )
        html = response.content.decode()
        assert response.status_code == 409 and "can no longer be booked online" in html
        assert f'href="{HOME}service/{vaccine.pk}/?lang=en"' in html
        assert not WaitlistEntry.objects.exists()

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
    from hubsite.demo import load_demo

    load_demo()
    html = client.get("/prendre-rendez-vous/plateau/").content.decode()
    assert "Rendez-vous en clinique" in html and "Tâches administratives" not in html


def code_url(request) -> str:
    return f"{HOME}code/{request.public_id}/"


class TestNoLongerBookable:
    @pytest.mark.parametrize(
        "lang, said",
        [("fr", "cette plage n’est plus offerte par la clinique"), ("en", "the clinic no longer offers this time")],
    )
    def test_a_time_deleted_while_the_patient_is_on_the_code_page_shows_the_next_free_times(
        self, client, open_clinic, service, professional, slot, clock, lang, said
    ):
        later = make_slot(professional, service, slot.start + timedelta(days=1))
        ask_code(client, slot, lang=lang)
        request = BookingRequest.objects.get()
        slot.delete()  # support redoing the clinic's slots
        reloaded = client.get(f"{code_url(request)}?lang={lang}")
        wrong = client.post(code_url(request), {"lang": lang, "code": "1234567"})
        right = client.post(code_url(request), {"lang": lang, "code": last_code()})
        for response in (reloaded, wrong, right):
            html = response.content.decode()
            assert response.status_code == 409 and said in html
            assert f'href="{HOME}plage/{later.pk}/?lang={lang}"' in html
        assert not Appointment.objects.exists()

    @pytest.mark.parametrize(
        "lang, said, other",
        [
            ("fr", "Ce type de rendez-vous ne peut plus être pris en ligne", "Vaccin"),
            ("en", "This kind of appointment can no longer be booked online", "Vaccine"),
        ],
    )
    def test_a_service_closed_online_after_the_code_was_asked_says_so_and_offers_the_services_still_open(
        self, client, open_clinic, service, professional, slot, clock, lang, said, other
    ):
        vaccine = make_service(open_clinic, name_fr="Vaccin", name_en="Vaccine", online_booking=True)
        make_slot(professional, service, slot.start + timedelta(days=1))
        ask_code(client, slot, lang=lang)
        service.online_booking = False
        service.save()
        response = client.post(code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code()})
        html = response.content.decode()
        assert response.status_code == 409 and said in html and "514 555-0100" in html
        assert "someone else" not in html and "quelqu’un d’autre" not in html
        assert f'href="{HOME}service/{vaccine.pk}/?lang={lang}"' in html and other in html
        assert f"service/{service.pk}/" not in html and "plage/" not in html and "choisir/" not in html
        assert not Appointment.objects.exists()

    def test_a_verified_patient_choosing_another_time_after_the_service_closed_is_told_so_without_looping(
        self, client, open_clinic, service, professional, slot, clinic, clock
    ):
        later = make_slot(professional, service, slot.start + timedelta(days=1))
        ask_code(client, slot)
        book(slot, make_patient(clinic, first_name="Anne"))
        request = BookingRequest.objects.get()
        assert client.post(code_url(request), {"lang": "en", "code": last_code()}).status_code == 409
        service.online_booking = False
        service.save()
        response = client.post(f"{HOME}choisir/{request.public_id}/", {"lang": "en", "slot": later.pk})
        html = response.content.decode()
        assert response.status_code == 409 and "can no longer be booked online" in html
        assert "choisir/" not in html
        assert not Appointment.objects.filter(slot=later).exists()


class TestWhereMessagesGo:
    @pytest.mark.parametrize(
        "lang, said",
        [("fr", "Une confirmation vous est envoyée à j•••@example.com."),
         ("en", "A confirmation is being sent to j•••@example.com.")],
    )  # fmt: skip
    def test_r19_the_booked_page_names_the_records_first_contact_not_the_mobile_typed_masked(
        self, client, open_clinic, slot, clock, channel_calls, lang, said
    ):
        # Whoever knows the mobile and the name must not learn the email on file.
        make_patient(open_clinic, email="jean@example.com", mobile="+15145550122")
        ask_code(client, slot, contact="514 555-0122", lang=lang)
        response = client.post(
            code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code("+15145550122")}
        )
        _response, html = page(client, response["Location"])
        assert said in html and "555-0122" not in html and "jean@" not in html
        send_due_messages()
        assert Message.objects.get(kind="confirmation").to == "jean@example.com"  # what the page said

    @pytest.mark.parametrize(
        "lang, said",
        [("fr", "Nous vous écrirons à a•••@example.com"), ("en", "We will write to a•••@example.com")],
    )
    def test_r19_the_waiting_list_page_names_where_offers_will_go_masked(
        self, client, open_clinic, service, clock, lang, said
    ):
        make_patient(open_clinic, first_name="Anne", email="anne@example.com", mobile="+15145550122")
        data = {"lang": lang, "first_name": "Anne", "last_name": "Roy", "contact": "514 555-0122"}
        data |= {"earliest": "2026-11-30", "latest": "2026-12-10"}
        response = client.post(f"{HOME}service/{service.pk}/attente/", data)
        response = client.post(response["Location"].split("?")[0], {"lang": lang, "code": last_code("+15145550122")})
        _response, html = page(client, response["Location"])
        assert said in html and "555-0122" not in html and "anne@" not in html

    @pytest.mark.parametrize(
        "phone, lang, said",
        [("+14505550111", "fr", "Nos messages au sujet de ce rendez-vous vous parviendront par appel au •••-•••-0111."),
         ("+14505550111", "en", "Our messages about this appointment will reach you by phone call at •••-•••-0111."),
         ("", "fr", "Nous n’avons aucun moyen de vous joindre au sujet de ce rendez-vous."),
         ("", "en", "We have no way to reach you about this appointment.")],
    )  # fmt: skip
    def test_r19_a_mobile_that_opted_out_after_booking_leaves_the_phone_or_nothing_and_the_page_says_so(
        self, client, open_clinic, slot, clock, phone, lang, said
    ):
        make_patient(open_clinic, email="", mobile="+15145550122", phone=phone)
        ask_code(client, slot, contact="514 555-0122", lang=lang)
        response = client.post(
            code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code("+15145550122")}
        )
        OptOut.objects.create(number="+15145550122")  # STOP to the confirmation
        _response, html = page(client, response["Location"])
        assert said in html

    @pytest.mark.parametrize(
        "lang, said",
        [("fr", "Une confirmation vous est envoyée à (514) 555-0122."),
         ("en", "A confirmation is being sent to (514) 555-0122.")],
    )  # fmt: skip
    def test_the_booked_page_shows_in_full_the_contact_the_patient_typed_and_proved(
        self, client, open_clinic, slot, clock, lang, said
    ):
        make_patient(open_clinic, email="", mobile="+15145550122")
        ask_code(client, slot, contact="514 555-0122", lang=lang)
        response = client.post(
            code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code("+15145550122")}
        )
        _response, html = page(client, response["Location"])
        assert said in html

    @pytest.mark.parametrize("lang", ["fr", "en"])
    def test_an_email_typed_in_other_capitals_than_the_files_is_shown_in_full(
        self, client, open_clinic, slot, clock, lang
    ):
        make_patient(open_clinic, email="Jean.Roy@Example.com")
        ask_code(client, slot, contact="jean.roy@example.com", lang=lang)
        response = client.post(
            code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code("jean.roy@example.com")}
        )
        _response, html = page(client, response["Location"])
        assert "Jean.Roy@Example.com" in html and "•" not in html

    @pytest.mark.parametrize(
        "lang, said",
        [("fr", "Nous n’avons ni courriel ni numéro de cellulaire pour vous offrir une plage. Appelez la clinique au 514 555-0100."),
         ("en", "We have no email or mobile number at which to offer you a time. Call the clinic at 514 555-0100.")],
    )  # fmt: skip
    def test_r19_a_waiting_patient_whose_mobile_opted_out_is_told_no_offer_can_reach_them(
        self, client, open_clinic, service, clock, lang, said
    ):
        data = {"lang": lang, "first_name": "Anne", "last_name": "Roy", "contact": "514 555-0122"}
        data |= {"earliest": "2026-11-30", "latest": "2026-12-10"}
        response = client.post(f"{HOME}service/{service.pk}/attente/", data)
        response = client.post(response["Location"].split("?")[0], {"lang": lang, "code": last_code("+15145550122")})
        OptOut.objects.create(number="+15145550122")
        _response, html = page(client, response["Location"])
        assert said in html

    @pytest.mark.parametrize(
        "lang, said",
        [("fr", "Nous ne pouvons pas écrire à une adresse qui contient des accents avant le @"),
         ("en", "We cannot write to an address with accented letters before the @")],
    )  # fmt: skip
    def test_an_email_with_an_accent_before_the_at_is_refused_with_a_clear_message_on_both_forms(
        self, client, open_clinic, service, slot, clock, lang, said
    ):
        who = {"lang": lang, "first_name": "Chloé", "last_name": "Roy", "contact": "chloé@example.com"}
        dates = {"earliest": "2026-11-30", "latest": "2026-12-10"}
        for url, data in ((f"{HOME}plage/{slot.pk}/", who), (f"{HOME}service/{service.pk}/attente/", who | dates)):
            response = client.post(url, data)
            assert response.status_code == 200 and said in response.content.decode()
        assert not BookingRequest.objects.exists() and not Message.objects.exists()

    @pytest.mark.parametrize(
        "typed", ["chloé@example.com", "chloe@exámple.com", "chloe@example.com", "chloe@localhost", "Chloé <c@x.ca>"]
    )
    def test_the_forms_accept_exactly_the_emails_messages_can_go_to(self, typed):
        from booking.pages import contact_of
        from outbox.contacts import contacts_of
        from patients.models import Patient

        accepted = contact_of(typed) is not None
        assert accepted == bool(contacts_of(Patient(email=typed)))


class TestWhatTheFormsPromise:
    @pytest.mark.parametrize(
        "lang, code, messages",
        [("fr", "Nous y envoyons un code pour vérifier qu’il s’agit bien de vous.",
          "Les messages de la clinique au sujet du rendez-vous vont au contact inscrit à votre dossier "
          "(celui-ci si vous n’avez pas encore de dossier à la clinique)."),
         ("en", "We send a code there to check that it is you.",
          "Messages from the clinic about the appointment go to the contact in your file at the clinic "
          "(this one if you have no file there yet).")],
    )  # fmt: skip
    def test_r19_the_booking_form_says_the_code_goes_to_the_contact_typed_and_messages_to_the_file(
        self, client, open_clinic, slot, clock, lang, code, messages
    ):
        _response, html = page(client, f"{HOME}plage/{slot.pk}/?lang={lang}")
        assert code in html and messages in html

    @pytest.mark.parametrize(
        "lang, code, offers",
        [("fr", "Nous y envoyons un code pour vérifier qu’il s’agit bien de vous.",
          "Les offres vont au courriel ou au cellulaire inscrit à votre dossier "
          "(celui-ci si vous n’avez pas encore de dossier à la clinique)."),
         ("en", "We send a code there to check that it is you.",
          "Offers go to the email or mobile in your file at the clinic (this one if you have no file there yet).")],
    )  # fmt: skip
    def test_r19_the_waiting_list_form_says_where_offers_go_and_promises_no_confirmation(
        self, client, open_clinic, service, clock, lang, code, offers
    ):
        _response, html = page(client, f"{HOME}service/{service.pk}/attente/?lang={lang}")
        assert code in html and offers in html
        assert (
            "confirmation" not in html and "au sujet du rendez-vous" not in html and "about the appointment" not in html
        )


class TestBookedPage:
    @pytest.mark.parametrize(
        "lang, said, booked",
        [("fr", "Votre rendez-vous est annulé", "Votre rendez-vous est réservé"),
         ("en", "Your appointment is cancelled", "Your appointment is booked")],
    )  # fmt: skip
    def test_the_booked_page_says_cancelled_once_the_appointment_is_cancelled(
        self, client, open_clinic, slot, clock, lang, said, booked
    ):
        ask_code(client, slot, lang=lang)
        response = client.post(code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code()})
        done = response["Location"]
        appointment = Appointment.objects.get()
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        _response, html = page(client, done)
        assert said in html and booked not in html
        assert f'href="{HOME}?lang={lang}"' in html  # to book another

    @pytest.mark.parametrize(
        "lang, said, note",
        [("fr", "Votre rendez-vous est annulé", "Ce rendez-vous a été annulé."),
         ("en", "Your appointment is cancelled", "This appointment was cancelled.")],
    )  # fmt: skip
    def test_the_booked_page_says_cancelled_once_staff_deleted_the_appointment(
        self, client, open_clinic, slot, clock, lang, said, note
    ):
        ask_code(client, slot, lang=lang)
        response = client.post(code_url(BookingRequest.objects.get()), {"lang": lang, "code": last_code()})
        done = response["Location"]
        Appointment.objects.get().delete()  # staff deleted it; the patient is sent a cancellation
        response, html = page(client, done)
        assert response.status_code == 200 and said in html and note in html
        assert "Page introuvable" not in html and "Page not found" not in html
        assert f'href="{HOME}?lang={lang}"' in html  # to book another

    def test_a_request_that_never_booked_has_no_booked_page(
        self, client, open_clinic, service, professional, slot, clinic, clock
    ):
        # Its time was taken before the code was typed: nothing to call cancelled.
        ask_code(client, slot)
        book(slot, make_patient(clinic, first_name="Anne"))
        request = BookingRequest.objects.get()
        assert client.post(code_url(request), {"lang": "en", "code": last_code()}).status_code == 409
        response, html = page(client, f"{HOME}reserve/{request.public_id}/?lang=en")
        assert response.status_code == 404 and "cancelled" not in html


class TestLaterTimes:
    def slots_page(self, client, service, lang="en", **query):
        query = "".join(f"&{name}={value}" for name, value in query.items())
        return page(client, f"{HOME}service/{service.pk}/?lang={lang}{query}")[1]

    def shown(self, html, slots) -> list:
        return [slot for slot in slots if f"plage/{slot.pk}/" in html]

    @pytest.mark.parametrize("lang, later, earlier", [("fr", "Plages suivantes", "Plages précédentes"),
                                                      ("en", "Later times", "Earlier times")])  # fmt: skip
    def test_the_patient_moves_to_later_times_and_back(
        self, client, open_clinic, service, professional, clock, lang, later, earlier
    ):
        times = [make_slot(professional, service, NOW + timedelta(days=1 + n // 4, hours=n % 4)) for n in range(14)]
        first = self.slots_page(client, service, lang)
        assert self.shown(first, times) == times[:12] and earlier not in first
        next_url = re.search(rf'href="([^"]+)"[^>]*>{later}<', first).group(1).replace("&amp;", "&")
        _response, second = page(client, next_url)
        assert self.shown(second, times) == times[12:] and later not in second
        back_url = re.search(rf'href="([^"]+)"[^>]*>{earlier}<', second).group(1).replace("&amp;", "&")
        _response, again = page(client, back_url)
        assert self.shown(again, times) == times[:12]

    def test_later_times_skip_no_time_sharing_a_start_with_the_last_shown(self, client, open_clinic, service, clock):
        start = NOW + timedelta(days=2)
        times = [make_slot(make_professional(open_clinic, last_name=f"P{n:02}"), service, start) for n in range(14)]
        first = self.slots_page(client, service)
        next_url = re.search(r'href="([^"]+)"[^>]*>Later times<', first).group(1).replace("&amp;", "&")
        second = page(client, next_url)[1]
        assert sorted(self.shown(first, times) + self.shown(second, times), key=lambda s: s.pk) == times

    @pytest.mark.parametrize("lang", ["fr", "en"])
    def test_the_patient_picks_a_date_to_see_the_times_from_that_day(
        self, client, open_clinic, service, professional, clock, lang
    ):
        times = [make_slot(professional, service, NOW + timedelta(days=1 + n)) for n in range(20)]
        html = self.slots_page(client, service, lang, **{"from": "2026-12-10"})
        assert 'type="date"' in html and 'value="2026-12-10"' in html
        assert self.shown(html, times)[0].start.date().isoformat() == "2026-12-10"
        assert self.shown(html, times) == times[16:]

    @pytest.mark.parametrize(
        "query",
        [{"from": "x"}, {"from": "2020-01-01"}, {"from": "99999-01-01"}, {"after": "abc"}, {"before": "%00"},
         {"after": "99999999999999999999"}, {"before": "0"}],
    )  # fmt: skip
    def test_a_malformed_date_or_position_shows_the_soonest_times(
        self, client, open_clinic, service, professional, slot, clock, query
    ):
        html = self.slots_page(client, service, **query)
        assert f"plage/{slot.pk}/" in html

    def test_a_date_after_every_free_time_says_so_and_leads_back(self, client, open_clinic, service, slot, clock):
        html = self.slots_page(client, service, **{"from": "2026-12-20"})
        assert f"plage/{slot.pk}/" not in html and "Earlier times" in html


class TestWaitingListCodePage:
    @pytest.mark.parametrize(
        "lang, button, wrong",
        [("fr", "M’inscrire sur la liste d’attente", "Confirmer le rendez-vous"),
         ("en", "Join the waiting list", "Confirm the appointment")],
    )  # fmt: skip
    def test_the_code_pages_button_says_it_joins_the_waiting_list(
        self, client, open_clinic, service, clock, lang, button, wrong
    ):
        data = {"lang": lang, "first_name": "Anne", "last_name": "Roy", "contact": "anne@example.com"}
        data |= {"earliest": "2026-11-30", "latest": "2026-12-10"}
        response = client.post(f"{HOME}service/{service.pk}/attente/", data)
        _response, html = page(client, response["Location"])
        assert f">{button}</button>" in html and wrong not in html
