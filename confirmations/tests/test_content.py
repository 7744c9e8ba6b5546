"""What each message says, in both languages, for every kind (R21–R24, D10).

The voice scripts are compared word for word with SPEC R24; SMS bodies are
checked for length (GSM-7, at most two segments); emails for their
content, links and mail-client-safe HTML.
"""

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
import time_machine

from confirmations import links
from confirmations.content import render, snapshot_of
from conftest import book, make_patient, make_slot
from history.dates import long_date
from outbox import sms
from outbox.dispatch import send_due_messages
from schedules.models import Slot

KINDS = ["confirmation", "reminder", "modification", "cancellation"]

SNAPSHOT = {
    "start": datetime(2026, 12, 3, 19, 30, tzinfo=UTC).isoformat(),  # 14:30 in Toronto
    "time_zone": "America/Toronto",
    "patient": "Jean Roy",
    "professional": "Marie Tremblay",
    "clinic": "Clinique du Parc",
    "clinic_address": "4500, rue Saint-Denis\nMontréal (Québec) H2J 2L3",
    "clinic_phone": "+15145550100",
    "clinic_email": "accueil@parc.example.org",
    "category": "in_person",
    "cancel_until": datetime(2026, 12, 2, 19, 30, tzinfo=UTC).isoformat(),  # a 24-hour delay
    "patient_ref": "6f1c1c1e-0000-4000-8000-000000000001",
}

# SPEC R24, with {…} filled in for SNAPSHOT.
VOICE_SCRIPTS = {
    ("fr", "confirmation"): "Ce message est pour confirmer le rendez-vous en personne de Jean Roy, le jeudi 3 "
    "décembre 2026 à 14\u00a0h\u00a030 avec Marie Tremblay à Clinique du Parc.",
    ("fr", "reminder"): "Ce message est pour vous rappeler le rendez-vous en personne de Jean Roy, le jeudi 3 "
    "décembre 2026 à 14\u00a0h\u00a030 avec Marie Tremblay à Clinique du Parc. Appuyez sur 1 pour confirmer votre "
    "rendez-vous.",
    ("fr", "modification"): "Ce message est pour vous informer d'une modification faite au rendez-vous en "
    "personne de Jean Roy, le jeudi 3 décembre 2026 à 14\u00a0h\u00a030 avec Marie Tremblay à Clinique du Parc. Pour plus "
    "d'information, vous pouvez contacter la clinique au 514 555-0100, le 514 555-0100.",
    ("fr", "cancellation"): "Ce message est pour vous informer de l'annulation du rendez-vous en personne de "
    "Jean Roy, le jeudi 3 décembre 2026 à 14\u00a0h\u00a030 à Clinique du Parc. Pour plus d'information, vous pouvez "
    "contacter la clinique au 514 555-0100, le 514 555-0100.",
    ("en", "confirmation"): "This message is to confirm Jean Roy's in-person appointment Thursday, December 3, "
    "2026 at 2:30 PM with Marie Tremblay at Clinique du Parc.",
    ("en", "reminder"): "This message is to remind you of Jean Roy's in-person appointment Thursday, December "
    "3, 2026 at 2:30 PM with Marie Tremblay at Clinique du Parc. Press one to confirm your appointment.",
    ("en", "modification"): "This message is to inform you of a change to Jean Roy's in-person appointment "
    "Thursday, December 3, 2026 at 2:30 PM with Marie Tremblay at Clinique du Parc. For more information, please "
    "contact the clinic at 514 555-0100, at 514 555-0100.",
    ("en", "cancellation"): "This message is to inform you that Jean Roy's in-person appointment on Thursday, "
    "December 3, 2026 at 2:30 PM at Clinique du Parc has been cancelled. For more information, please contact "
    "the clinic at 514 555-0100, at 514 555-0100.",
}


@pytest.mark.parametrize(("language", "kind"), list(VOICE_SCRIPTS), ids=lambda v: v)
def test_r24_voice_scripts_word_for_word(language, kind):
    assert render(kind, "voice", language, SNAPSHOT).text == VOICE_SCRIPTS[(language, kind)]


@pytest.mark.parametrize(
    ("name", "french"),
    [
        ("Alice Martin", "d'Alice Martin"),
        ("Émilie Roy", "d'Émilie Roy"),
        ("Isabelle Ouellet", "d'Isabelle Ouellet"),
        ("Hélène Roy", "d'Hélène Roy"),  # an initial h is taken as mute
        ("Yves Roy", "d'Yves Roy"),
        ("Yannick Roy", "de Yannick Roy"),  # y before a vowel sounds as a consonant
        ("Jean Roy", "de Jean Roy"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_french_elides_de_before_a_name_that_starts_with_a_vowel_sound(kind, name, french):
    snapshot = {**SNAPSHOT, "patient": name}
    for channel in ("voice", "sms"):
        text = render(kind, channel, "fr", snapshot).text
        assert f"rendez-vous en personne {french}" in text


def test_r24_the_voice_script_elides_before_a_vowel():
    snapshot = {**SNAPSHOT, "patient": "Alice Martin"}
    assert render("confirmation", "voice", "fr", snapshot).text == VOICE_SCRIPTS[("fr", "confirmation")].replace(
        "de Jean Roy", "d'Alice Martin"
    )
    assert render("confirmation", "voice", "en", snapshot).text == VOICE_SCRIPTS[("en", "confirmation")].replace(
        "Jean Roy", "Alice Martin"
    )


@pytest.mark.parametrize(
    ("category", "french", "english"),
    [
        ("in_person", "rendez-vous en personne de", "in-person appointment"),
        ("phone", "rendez-vous téléphonique de", "phone appointment"),
        ("virtual", "rendez-vous virtuel de", "virtual appointment"),
        ("home", "rendez-vous à domicile de", "home appointment"),
    ],
)
def test_r5_every_message_names_the_appointment_type(category, french, english):
    snapshot = {**SNAPSHOT, "category": category}
    for kind in KINDS:
        for channel in ("voice", "sms"):
            assert french in render(kind, channel, "fr", snapshot).text
            assert english in render(kind, channel, "en", snapshot).text


@pytest.mark.parametrize(
    ("instant", "french", "english"),
    [
        (datetime(2026, 12, 3, 19, 30, tzinfo=UTC), "jeudi 3 décembre 2026 à 14\u00a0h\u00a030", "Thursday, December 3, 2026 at 2:30 PM"),
        (datetime(2026, 7, 1, 13, 0, tzinfo=UTC), "mercredi 1er juillet 2026 à 9\u00a0h", "Wednesday, July 1, 2026 at 9:00 AM"),
        (datetime(2027, 1, 1, 5, 5, tzinfo=UTC), "vendredi 1er janvier 2027 à 0\u00a0h\u00a005", "Friday, January 1, 2027 at 12:05 AM"),
    ],
)  # fmt: skip
def test_d10_dates_read_naturally_in_the_clinics_time_zone(instant, french, english):
    assert long_date(instant, "America/Toronto", "fr") == french
    assert long_date(instant, "America/Toronto", "en") == english


class TestSms:
    LONG_NAMES = {
        **SNAPSHOT,
        "patient": "Marie-Ève-Françoise Bélanger-Côté-Lévesque",
        "professional": "Jean-François-Xavier Desrochers-Thériault",
        "clinic": "Clinique médicale familiale du Plateau-Mont-Royal et de la Petite-Patrie",
        "category": "home",
    }

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("kind", KINDS)
    def test_every_sms_fits_two_gsm_segments_even_with_long_names(self, kind, language):
        body = render(kind, "sms", language, self.LONG_NAMES).text
        assert sms.segments(body) in {("gsm-7", 1), ("gsm-7", 2)}, body

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("kind", KINDS)
    def test_r23_an_sms_has_date_clinic_professional_and_no_link(self, kind, language):
        body = render(kind, "sms", language, SNAPSHOT).text
        assert "Clinique du Parc" in body
        assert ("3 décembre 2026 à 14 h 30" if language == "fr" else "December 3, 2026 at 2:30 PM") in body
        if kind != "cancellation":
            assert "Marie Tremblay" in body
        assert "http" not in body

    def test_characters_outside_gsm_7_are_written_plainly(self):
        assert sms.plain("Côté «\u00a0ARRÊT\u00a0» – l’île\u00a0: ça") == 'Coté " ARRET " - l\'ile : ca'
        assert sms.segments("é" * 160) == ("gsm-7", 1)
        assert sms.segments("ê" * 71) == ("ucs-2", 2)
        assert sms.segments("a" * 161) == ("gsm-7", 2)
        assert sms.segments("€" * 80) == ("gsm-7", 1)
        assert sms.segments("€" * 81) == ("gsm-7", 2)


class TestEmail:
    REF = uuid4()

    def email(self, kind, language, **changes):
        return render(kind, "email", language, {**SNAPSHOT, **changes}, self.REF)

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("kind", KINDS)
    def test_r21_every_email_has_date_clinic_contact_professional_and_type(self, kind, language):
        email = self.email(kind, language)
        for part in (email.text, email.html):
            assert (
                "jeudi 3 décembre 2026 à 14\u00a0h\u00a030" if language == "fr" else "Thursday, December 3, 2026"
            ) in part
            assert "Clinique du Parc" in part and "514 555-0100" in part
            assert "4500, rue Saint-Denis" in part
            assert "Marie Tremblay" in part
            assert ("En personne" if language == "fr" else "In person") in part

    @pytest.mark.parametrize("language", ["fr", "en"])
    @time_machine.travel(datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False)
    def test_r21_r22_buttons_link_to_signed_patient_pages(self, language):
        # Frozen: a link's signature carries the second it was made.
        patient = SNAPSHOT["patient_ref"]
        cancel = links.url_for(self.REF, patient, links.CANCEL, language)
        confirm = links.url_for(self.REF, patient, links.CONFIRM, language)
        for kind in ("confirmation", "reminder", "modification"):
            email = self.email(kind, language)
            assert f'href="{cancel}"' in email.html and cancel in email.text
        reminder = self.email("reminder", language)
        assert f'href="{confirm}"' in reminder.html and confirm in reminder.text
        assert confirm not in self.email("confirmation", language).html
        cancellation = self.email("cancellation", language)
        assert "rendez-vous/" not in cancellation.html + cancellation.text

    def test_r8_without_online_cancellation_the_email_says_to_call(self):
        email = self.email("confirmation", "fr", cancel_until=None)
        assert "rendez-vous/annuler" not in email.html
        assert "Pour annuler, appelez la clinique au 514 555-0100." in email.html

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("kind", KINDS)
    def test_the_html_renders_in_mail_clients(self, kind, language):
        html = self.email(kind, language).html
        assert "<table" in html and 'role="presentation"' in html
        assert "<img" not in html and "<link" not in html and "<style" not in html and "@import" not in html
        external = [
            url for url in re.findall(r'(?:href|src)="([^"]+)"', html) if not url.startswith("https://hub.example.org/")
        ]
        assert external == []
        assert f'lang="{language}"' in html

    def test_subjects_in_each_language(self):
        assert (
            self.email("reminder", "fr").subject
            == "Rappel\u00a0: votre rendez-vous du jeudi 3 décembre 2026 à 14\u00a0h\u00a030"
        )
        assert (
            self.email("cancellation", "en").subject
            == "Your appointment on Thursday, December 3, 2026 at 2:30 PM is cancelled"
        )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "language, sentence",
    [
        ("fr", "Ce courriel est envoyé automatiquement par Clinique du Parc au sujet de votre rendez-vous."),
        ("en", "This email is sent automatically by Clinique du Parc about your appointment."),
    ],
)
def test_every_email_ends_with_the_clinics_identity_and_contact_details(kind, language, sentence):
    """Canada's anti-spam law: the sender is named, with a mailing address
    and a way to reach it, in every email."""
    rendered = render(kind, "email", language, SNAPSHOT, uuid4())
    text_footer = rendered.text.split("\n-- \n", 1)[1]
    assert text_footer == (
        f"{sentence}\nClinique du Parc, 4500, rue Saint-Denis\nMontréal (Québec) H2J 2L3, 514 555-0100, "
        "accueil@parc.example.org\n"
    )
    html_footer = rendered.html.split('<span class="sender">', 1)[1].split("</span>", 1)[0]
    assert html_footer == (
        "Clinique du Parc · 4500, rue Saint-Denis<br>Montréal (Québec) H2J 2L3 · 514 555-0100 · accueil@parc.example.org"
    )


class TestCancelLinkOnlyWhileItWorks:
    """R21, R22, R25, R8: an email carries a Cancel link only while the
    service's cancellation delay still lets the patient cancel online, at
    the moment it is written; past it, the email says how to reach the
    clinic instead. The reminder's Confirm link stays either way."""

    START = datetime(2026, 12, 3, 10, 30, tzinfo=ZoneInfo("America/Toronto"))
    LAST_MOMENT = START - timedelta(hours=24)  # the service's cancellation delay (conftest: 24 h)
    CALL = {
        "fr": "Pour annuler, appelez la clinique au 514 555-0100.",
        "en": "To cancel, call the clinic at 514 555-0100.",
    }

    @pytest.fixture
    def appointment(self, professional, service, patient):
        return book(make_slot(professional, service, self.START), patient)

    def email(self, appointment, kind, language):
        return render(kind, "email", language, snapshot_of(appointment), appointment.public_id)

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("kind", ["confirmation", "reminder", "modification"])
    def test_the_cancel_link_stays_until_the_last_moment_to_cancel_online(self, appointment, kind, language):
        with time_machine.travel(self.LAST_MOMENT, tick=False):
            cancel = links.url_for(appointment.public_id, appointment.patient.public_id, links.CANCEL, language)
            email = self.email(appointment, kind, language)
        assert f'href="{cancel}"' in email.html and cancel in email.text
        assert self.CALL[language] not in email.html + email.text

    @pytest.mark.parametrize("language", ["fr", "en"])
    @pytest.mark.parametrize("kind", ["confirmation", "reminder", "modification"])
    def test_past_the_cancellation_delay_the_email_says_to_call_the_clinic(self, appointment, kind, language):
        with time_machine.travel(self.LAST_MOMENT + timedelta(microseconds=1), tick=False):
            email = self.email(appointment, kind, language)
        for part in (email.html, email.text):
            assert "rendez-vous/annuler" not in part
            assert self.CALL[language] in part

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_past_the_cancellation_delay_the_reminder_keeps_its_confirm_link(self, appointment, language):
        with time_machine.travel(self.LAST_MOMENT + timedelta(hours=1), tick=False):
            confirm = links.url_for(appointment.public_id, appointment.patient.public_id, links.CONFIRM, language)
            email = self.email(appointment, "reminder", language)
        assert f'href="{confirm}"' in email.html and confirm in email.text

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_a_same_day_booking_gets_no_dead_cancel_link(self, appointment, language, channel_calls):
        """The reported case: booked early in the morning for 10:30 the same
        day, with a 24-hour delay: the confirmation and the reminder go at once."""
        appointment.delete()
        with time_machine.travel(self.START - timedelta(hours=5), tick=False):
            patient = make_patient(appointment.patient.clinic, first_name="Alice", language=language)
            booked = book(Slot.objects.get(start=self.START), patient)
            send_due_messages()
        sent = {message.kind: message for message in booked.messages.filter(state="sent")}
        assert set(sent) == {"confirmation", "reminder"}
        for message in sent.values():
            assert message.channel == "email"
            assert "rendez-vous/annuler" not in message.html + message.content
            assert self.CALL[language] in message.content
        assert "rendez-vous/confirmer" in sent["reminder"].html

    def test_without_a_clinic_phone_the_email_says_to_write_to_the_clinic(self, appointment):
        snapshot = {**snapshot_of(appointment), "clinic_phone": "", "clinic_email": "accueil@parc.example.org"}
        with time_machine.travel(self.LAST_MOMENT + timedelta(hours=1), tick=False):
            french = render("confirmation", "email", "fr", snapshot, appointment.public_id)
            english = render("confirmation", "email", "en", snapshot, appointment.public_id)
        assert "Pour annuler, écrivez à la clinique à l’adresse accueil@parc.example.org." in french.html
        assert "To cancel, write to the clinic at accueil@parc.example.org." in english.text
        assert "appelez la clinique au ." not in french.html + french.text
