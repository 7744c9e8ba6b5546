"""The patient pages behind the email buttons (issue 5; SPEC R25, R26, D7, D11)."""

from datetime import datetime, timedelta

import pytest
import time_machine

from confirmations import links
from conftest import TORONTO, book, make_patient
from outbox.models import Message
from schedules.models import Appointment

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 3, 14, 30, tzinfo=TORONTO)  # the slot fixture
DELAY = timedelta(hours=24)  # the service fixture's cancellation delay


@pytest.fixture
def clock():
    with time_machine.travel(START - timedelta(days=5), tick=False) as traveller:
        yield traveller


@pytest.fixture
def appointment(slot, patient, clock):
    return book(slot, patient)


def path(appointment, action, language="fr") -> str:
    return links.url_for(appointment.public_id, appointment.patient.public_id, action, language).removeprefix(
        "https://hub.example.org"
    )


def status_of(appointment) -> str:
    appointment.refresh_from_db()
    return appointment.status


class TestOpeningALinkChangesNothing:
    @pytest.mark.parametrize("action", [links.CANCEL, links.CONFIRM])
    def test_get_and_head_however_often(self, client, appointment, action):
        for _ in range(3):
            assert client.get(path(appointment, action)).status_code == 200
            assert client.head(path(appointment, action)).status_code == 200
        assert status_of(appointment) == "booked"
        assert not Message.objects.filter(kind="cancellation").exists()

    def test_the_page_shows_the_appointment_and_one_button_and_no_script(self, client, appointment):
        page = client.get(path(appointment, links.CANCEL)).content.decode()
        assert "jeudi 3 décembre 2026 à 14\u00a0h\u00a030" in page
        assert "Marie Tremblay" in page and "Clinique du Parc" in page and "En personne" in page
        assert page.count("<button") == 1 and 'method="post"' in page
        assert "<script" not in page

    @pytest.mark.parametrize("action", [links.CANCEL, links.CONFIRM])
    def test_the_token_goes_nowhere_else(self, client, appointment, action):
        response = client.get(path(appointment, action))
        assert response["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response["Cache-Control"]
        page = response.content.decode()
        assert "http://" not in page and "https://" not in page  # no third-party resource


class TestCancel:
    def test_r25_cancelling_frees_the_slot_plans_the_notice_and_names_the_patient(
        self, client, appointment, slot, clinic
    ):
        response = client.post(path(appointment, links.CANCEL))
        assert response.status_code == 302
        assert status_of(appointment) == "cancelled"
        assert appointment.history.last().actor == "patient"
        assert Message.objects.filter(kind="cancellation", state="pending").exists()  # D7
        assert book(slot, make_patient(clinic, first_name="Anne")).pk  # the slot is free at once
        assert "Votre rendez-vous est annulé." in client.get(response["Location"]).content.decode()

    def test_a_double_click_cancels_once(self, client, appointment):
        client.post(path(appointment, links.CANCEL))
        client.post(path(appointment, links.CANCEL))
        assert Message.objects.filter(kind="cancellation").count() == 1
        assert appointment.history.filter(status="cancelled").count() == 1

    def test_r25_cancelling_is_allowed_up_to_the_delay(self, client, appointment, clock):
        clock.move_to(START - DELAY)
        client.post(path(appointment, links.CANCEL))
        assert status_of(appointment) == "cancelled"

    def test_r25_one_second_after_the_delay_it_is_refused_with_the_clinic_phone(self, client, appointment, clock):
        clock.move_to(START - DELAY + timedelta(seconds=1))
        page = client.get(path(appointment, links.CANCEL)).content.decode()
        assert "Il n’est plus possible d’annuler ce rendez-vous en ligne." in page
        assert "514 555-0100" in page and "<button" not in page
        client.post(path(appointment, links.CANCEL))
        assert status_of(appointment) == "booked"

    def test_r8_a_service_without_a_delay_cannot_be_cancelled_online(self, client, appointment, service):
        service.cancellation_delay = None
        service.save()
        page = client.get(path(appointment, links.CANCEL)).content.decode()
        assert "ne peut pas être annulé en ligne" in page
        client.post(path(appointment, links.CANCEL))
        assert status_of(appointment) == "booked"


class TestConfirm:
    def test_r26_confirming_from_the_reminder(self, client, appointment):
        response = client.post(path(appointment, links.CONFIRM))
        assert status_of(appointment) == "confirmed_email"
        assert appointment.history.last().actor == "patient"
        assert "Merci\u202f! Votre présence est confirmée." in client.get(response["Location"]).content.decode()

    def test_a_second_click_is_harmless(self, client, appointment):
        client.post(path(appointment, links.CONFIRM))
        client.post(path(appointment, links.CONFIRM))
        assert appointment.history.filter(status="confirmed_email").count() == 1

    def test_confirming_a_cancelled_appointment_is_refused(self, client, appointment):
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        page = client.get(path(appointment, links.CONFIRM)).content.decode()
        assert "il ne peut pas être confirmé" in page and "<button" not in page
        client.post(path(appointment, links.CONFIRM))
        assert status_of(appointment) == "cancelled"


class TestBadLinks:
    """D11: one uniform page, whatever is wrong."""

    def bad_page(self, response) -> str:
        assert response.status_code == 404
        return response.content.decode()

    def test_tampered_foreign_wrong_action_expired_and_unknown_links_look_the_same(self, client, appointment, clock):
        good = path(appointment, links.CANCEL)
        token = good.split("/")[-2]
        pages = {
            "tampered": self.bad_page(client.get(good.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B")))),
            "garbage": self.bad_page(client.get("/rendez-vous/annuler/nimportequoi/")),
            "confirm token on cancel": self.bad_page(
                client.get(good.replace(token, path(appointment, links.CONFIRM).split("/")[-2]))
            ),
            "unknown appointment": self.bad_page(
                client.get(
                    f"/rendez-vous/annuler/{links.token_for('00000000-0000-0000-0000-000000000000', appointment.patient.public_id, 'cancel', 'fr')}/"
                )
            ),
        }
        clock.move_to(START)
        pages["started"] = self.bad_page(client.get(good))
        assert len(set(pages.values())) == 1
        assert "Ce lien ne fonctionne pas" in pages["started"]

    def test_d13_a_former_patients_links_do_not_reach_the_new_patients_appointment(self, client, appointment, clinic):
        cancel, confirm = path(appointment, links.CANCEL), path(appointment, links.CONFIRM)
        appointment.patient = make_patient(clinic, first_name="Anne", email="anne@example.com")
        appointment.save()
        self.bad_page(client.get(cancel))
        client.post(cancel)
        client.post(confirm)
        assert status_of(appointment) == "booked"

    def test_a_posted_bad_link_changes_nothing(self, client, appointment):
        client.post("/rendez-vous/annuler/nimportequoi/")
        assert status_of(appointment) == "booked"

    def test_another_clinics_secret_key_signs_foreign_links(self, client, appointment, settings):
        settings.SECRET_KEY = "another-hub"
        foreign = path(appointment, links.CANCEL)
        settings.SECRET_KEY = "test-only-secret-key"
        self.bad_page(client.get(foreign))


class TestLanguage:
    def test_the_page_speaks_the_language_of_the_message_with_a_switch(self, client, appointment):
        english = client.get(path(appointment, links.CANCEL, "en")).content.decode()
        assert "Cancel your appointment" in english and "Thursday, December 3, 2026 at 2:30 PM" in english
        assert 'href="?lang=fr"' in english and 'lang="en-CA"' in english
        french = client.get(path(appointment, links.CANCEL, "en") + "?lang=fr").content.decode()
        assert "Annuler votre rendez-vous" in french

    def test_a_bad_link_writes_no_token_to_the_logs(self, client, caplog):
        client.get("/rendez-vous/annuler/a-secret-token/")
        assert "a-secret-token" not in caplog.text

    def test_a_bad_link_speaks_the_browsers_language(self, client):
        english = client.get(
            "/rendez-vous/annuler/not-a-token/", HTTP_ACCEPT_LANGUAGE="en-CA,en;q=0.9"
        ).content.decode()
        assert "This link does not work" in english
        french = client.get("/rendez-vous/annuler/not-a-token/", HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9").content.decode()
        assert "Ce lien ne fonctionne pas" in french

    def test_the_appointment_history_says_what_the_patient_did_in_the_readers_language(self, client, appointment):
        from django.utils import translation

        client.post(path(appointment, links.CANCEL))
        line = appointment.history.last()
        assert line.text.startswith("Annulé par le patient au moyen du lien du courriel.")
        with translation.override("en"):
            assert appointment.history.last().text.startswith("Cancelled by the patient with the email's link.")


class TestRateLimit:
    def test_bad_and_good_tokens_and_both_pages_share_one_limit_per_client_ip(self, client, appointment):
        for _ in range(10):
            client.get("/rendez-vous/annuler/nimportequoi/", REMOTE_ADDR="203.0.113.7")
            client.get("/rendez-vous/confirmer/nimportequoi/", REMOTE_ADDR="203.0.113.7")
        assert client.get(path(appointment, links.CANCEL), REMOTE_ADDR="203.0.113.7").status_code == 429
        assert client.get(path(appointment, links.CONFIRM), REMOTE_ADDR="203.0.113.7").status_code == 429
        assert client.get(path(appointment, links.CANCEL), REMOTE_ADDR="203.0.113.8").status_code == 200

    def test_behind_a_proxy_the_client_is_the_address_the_proxy_saw(self, client, appointment, settings):
        settings.TRUSTED_PROXIES = 1
        for _ in range(20):
            client.get("/rendez-vous/annuler/x/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
        blocked = client.get(
            path(appointment, links.CANCEL), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"
        )
        other = client.get(path(appointment, links.CANCEL), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
        assert (blocked.status_code, other.status_code) == (429, 200)
