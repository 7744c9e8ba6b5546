"""SMS keywords under Canada's carrier rules, and cancellation requests.

STOP/ARRET opt out, START opts back in, HELP/AIDE/INFO say who writes;
each is answered once, through the outbox, in both languages. A request to
cancel cannot cancel (R23): it is answered in the patient's language and
flagged for staff; CANCEL alone also opts out.
"""

from datetime import timedelta

import pytest

from confirmations import answers, keywords
from confirmations.replies import understand, understand_waiting
from conftest import MOBILE, PHONE, RecordingChannel, book, make_patient
from outbox.dispatch import send_due_messages
from outbox.models import Message, OptOut, Reply
from outbox.outcomes import BAD_ADDRESS, TransportError
from outbox.tests.test_webhooks import post_signed, sms_message, text_back

pytestmark = pytest.mark.django_db

K = keywords


@pytest.mark.parametrize(
    "body, meant",
    [
        ("STOP", {K.STOP}),
        ("stop", {K.STOP}),
        (" Stop. ", {K.STOP}),
        ("S T O P", {K.STOP}),
        ("ARRET", {K.STOP}),
        ("Arrêt !", {K.STOP}),
        ("arrêter", {K.STOP}),
        ("STOPALL", {K.STOP}),
        ("Unsubscribe", {K.STOP}),
        ("end", {K.STOP}),
        ("QUIT", {K.STOP}),
        ("OptOut", {K.STOP}),
        ("revoke", {K.STOP}),
        ("START", {K.START}),
        ("unstop!", {K.START}),
        ("Start ", {K.START}),
        ("HELP", {K.HELP}),
        ("aide?", {K.HELP}),
        ("Info", {K.HELP}),
        (" AIDE ", {K.HELP}),
        ("CANCEL", {K.STOP, K.WANTS_TO_CANCEL}),
        ("Cancel.", {K.STOP, K.WANTS_TO_CANCEL}),
        ("ANNULER", {K.WANTS_TO_CANCEL}),
        ("annulé", {K.WANTS_TO_CANCEL}),
        ("Je veux annuler mon rendez-vous", {K.WANTS_TO_CANCEL}),
        ("Annulation svp", {K.WANTS_TO_CANCEL}),
        ("I need to cancel, sorry", {K.WANTS_TO_CANCEL}),
        ("Oui, annulez", {K.WANTS_TO_CANCEL}),
        ("Oui", {K.CONFIRM}),
        ("OK", {K.CONFIRM}),
        ("yes!", {K.CONFIRM}),
        ("Please don't stop", set()),
        ("stop it", set()),
        ("Merci", set()),
        ("", set()),
    ],
)
def test_what_a_reply_means(body, meant):
    assert keywords.meaning(body) == meant


# --- The answers' words, in both languages ------------------------------------

PARC = {"clinic": "Clinique du Parc", "clinic_phone": "+15145550100", "email_link": False, "stopped": False}


def snapshot(topic, **values):
    return {**PARC, "answer": topic, "language_known": True, **values}


def test_the_answer_to_stop_in_french_then_english():
    assert answers.write(snapshot(answers.STOPPED), "fr") == (
        "Clinique du Parc : vous ne recevrez plus de textos de notre part. "
        "Pour les recevoir de nouveau, répondez START.\n"
        "Clinique du Parc: you will no longer receive texts from us. To receive them again, reply START."
    )


def test_the_answer_to_start_in_english_then_french():
    assert answers.write(snapshot(answers.STARTED), "en") == (
        "Clinique du Parc: you will receive our texts again. To stop them, reply STOP.\n"
        "Clinique du Parc : vous recevrez de nouveau nos textos. Pour ne plus les recevoir, répondez ARRET."
    )


def test_the_answer_to_help_names_the_clinic_and_its_phone_and_how_to_stop():
    assert answers.write(snapshot(answers.HELP), "fr") == (
        "Clinique du Parc : avis et rappels de rendez-vous. Information : 514 555-0100. "
        "Pour ne plus recevoir de textos, répondez ARRET.\n"
        "Clinique du Parc: appointment notices and reminders. Information: 514 555-0100. "
        "To stop receiving texts, reply STOP."
    )


def test_the_answer_to_a_cancellation_request_is_in_the_patients_language_only():
    assert answers.write(snapshot(answers.CANCEL_REQUEST), "fr") == (
        "Clinique du Parc : un texto ne peut pas annuler un rendez-vous. "
        "Pour annuler, appelez la clinique au 514 555-0100."
    )
    assert answers.write(snapshot(answers.CANCEL_REQUEST), "en") == (
        "Clinique du Parc: a text cannot cancel an appointment. To cancel, call the clinic at 514 555-0100."
    )


def test_the_answer_to_a_cancellation_request_points_to_the_emails_link_when_there_is_one():
    assert answers.write(snapshot(answers.CANCEL_REQUEST, email_link=True), "en") == (
        "Clinique du Parc: a text cannot cancel an appointment. To cancel, call the clinic at 514 555-0100 "
        "or use the Cancel link in your email."
    )
    assert answers.write(snapshot(answers.CANCEL_REQUEST, email_link=True), "fr").endswith(
        "appelez la clinique au 514 555-0100 ou utilisez le lien Annuler de votre courriel."
    )


def test_the_answer_to_cancel_says_texts_stop_and_how_to_resume():
    assert answers.write(snapshot(answers.CANCEL_REQUEST, stopped=True), "fr") == (
        "Clinique du Parc : un texto ne peut pas annuler un rendez-vous. "
        "Pour annuler, appelez la clinique au 514 555-0100. "
        "Vous ne recevrez plus de textos de notre part ; pour les recevoir de nouveau, répondez START."
    )
    assert answers.write(snapshot(answers.CANCEL_REQUEST, stopped=True), "en").endswith(
        "You will no longer receive texts from us; to receive them again, reply START."
    )


def test_to_a_number_nobody_knows_the_answer_is_in_both_languages_without_a_clinic():
    unknown = {"answer": answers.STOPPED, "clinic": "", "clinic_phone": "", "language_known": False}
    assert answers.write(unknown, "fr") == (
        "Vous ne recevrez plus de textos de notre part. Pour les recevoir de nouveau, répondez START.\n"
        "You will no longer receive texts from us. To receive them again, reply START."
    )
    help_unknown = {**unknown, "answer": answers.CANCEL_REQUEST}
    assert answers.write(help_unknown, "fr").count("\n") == 1  # both languages


def test_the_email_link_is_mentioned_only_when_an_email_with_a_working_link_went_out(
    clock, slot, clinic, channel_calls
):
    appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile=MOBILE))

    def mentioned() -> bool:
        return answers.about(answers.CANCEL_REQUEST, clinic, appointment.patient, appointment)["email_link"]

    assert not mentioned()  # the confirmation has not gone out yet
    send_due_messages()
    assert mentioned()
    appointment.service.cancellation_delay = None  # no online cancellation
    assert not mentioned()
    appointment.service.cancellation_delay = timedelta(hours=24)
    clock.move_to(slot.start - timedelta(hours=23))  # too late to cancel online
    assert not mentioned()


def test_no_email_link_when_the_email_bounced(clock, slot, clinic, channel_calls):
    appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile=MOBILE))
    RecordingChannel.failures.append(TransportError("SMTP 550 5.1.1 unknown user", BAD_ADDRESS))
    send_due_messages()
    send_due_messages()  # the fallback, by SMS
    assert appointment.messages.filter(channel="sms", state="sent").exists()
    assert not answers.about(answers.CANCEL_REQUEST, clinic, appointment.patient, appointment)["email_link"]


def test_answers_keep_to_the_sms_alphabet():
    from outbox.sms import is_gsm

    for topic in (answers.STOPPED, answers.STARTED, answers.HELP, answers.CANCEL_REQUEST):
        for language in ("fr", "en"):
            assert is_gsm(answers.write(snapshot(topic, stopped=True, email_link=True), language))


# --- End to end: the reply, the opt-out, the answer through the outbox --------


def answers_sent(channel_calls) -> list[tuple[str, str]]:
    ids = set(Message.objects.filter(kind=Message.Kind.ANSWER).values_list("pk", flat=True))
    return [(to, content) for pk, channel, to, content in channel_calls if pk in ids]


@pytest.mark.parametrize("body", ["STOP", "arrêt", " Arret! ", "Stop."])
def test_stop_opts_out_and_is_answered_once_in_both_languages(client, twilio_settings, texted, channel_calls, body):
    text_back(client, body)
    send_due_messages()
    assert OptOut.objects.filter(number=MOBILE).exists()
    reply = Reply.objects.get()
    assert reply.outcome == "opted_out" and reply.answer.state == "sent"
    [(to, text)] = answers_sent(channel_calls)
    assert to == MOBILE  # opted out, and still told so, once
    assert text == answers.write(snapshot(answers.STOPPED), "fr")
    history = texted.history.order_by("-id").first()
    assert history.actor == "patient"
    assert history.text == (
        "Le mobile du patient (514) 555-0111 a répondu ARRET\u00a0: aucun texto ne lui est envoyé "
        "jusqu’à ce qu’il réponde START."
    ).replace("ARRET", keywords.normalize(body))


def test_start_after_stop_opts_back_in_and_sms_go_to_the_mobile_again(
    client, twilio_settings, texted, channel_calls, clock
):
    text_back(client, "ARRÊT", sid="SM1")
    text_back(client, "start", sid="SM2")
    send_due_messages()
    assert not OptOut.objects.exists()
    assert [text.split("\n")[0] for _, text in answers_sent(channel_calls)] == [
        "Clinique du Parc : vous ne recevrez plus de textos de notre part. "
        "Pour les recevoir de nouveau, répondez START.",
        "Clinique du Parc : vous recevrez de nouveau nos textos. Pour ne plus les recevoir, répondez ARRET.",
    ]
    clock.move_to(texted.start - (texted.start - texted.created_at) / 2)
    texted.messages.filter(kind="reminder").update(due_at=texted.created_at)
    send_due_messages()
    assert channel_calls[-1][1:3] == ("sms", MOBILE)


@pytest.mark.parametrize("body", ["HELP", "aide", "Info?"])
def test_help_is_answered_with_the_clinic_and_how_to_stop_in_the_patients_language_first(
    client, twilio_settings, texted, channel_calls, body
):
    texted.patient.language = "en"
    texted.patient.save()
    text_back(client, body)
    send_due_messages()
    assert Reply.objects.get().outcome == "help"
    [(_, text)] = answers_sent(channel_calls)
    assert text.split("\n")[0] == (
        "Clinique du Parc: appointment notices and reminders. Information: 514 555-0100. "
        "To stop receiving texts, reply STOP."
    )
    assert not OptOut.objects.exists()


@pytest.mark.parametrize("body", ["ANNULER", "Je veux annuler", "annulation svp", "I want to cancel"])
def test_a_cancellation_request_cancels_nothing_is_answered_and_waits_for_staff(
    client, twilio_settings, texted, channel_calls, body
):
    text_back(client, body)
    send_due_messages()
    texted.refresh_from_db()
    assert texted.status == "sent_sms" and texted.is_active  # an SMS cannot cancel (R23)
    reply = Reply.objects.get()
    assert (reply.outcome, reply.appointment, reply.for_staff) == ("wants_to_cancel", texted, True)
    assert not OptOut.objects.exists()
    [(_, text)] = answers_sent(channel_calls)
    assert text == answers.write(snapshot(answers.CANCEL_REQUEST), "fr")
    assert texted.history.order_by("-id").first().text == (
        "Le patient demande par texto d’annuler. Un texto ne peut pas annuler\u00a0: "
        "le patient a été invité à appeler la clinique."
    )


def test_cancel_alone_is_a_cancellation_request_and_an_opt_out_and_the_answer_says_both(
    client, twilio_settings, texted, channel_calls
):
    text_back(client, "Cancel")
    send_due_messages()
    texted.refresh_from_db()
    assert texted.is_active
    assert Reply.objects.get().outcome == "wants_to_cancel"
    assert OptOut.objects.filter(number=MOBILE).exists()
    [(_, text)] = answers_sent(channel_calls)
    assert text == answers.write(snapshot(answers.CANCEL_REQUEST, stopped=True), "fr")
    assert [change["kind"] for change in texted.history.order_by("-id").first().events] == [
        "sms_stopped",
        "wants_to_cancel",
    ]


def test_a_stop_from_a_number_the_hub_never_wrote_to_is_answered_in_both_languages(
    client, twilio_settings, db, channel_calls
):
    text_back(client, "STOP", number="+15145559999")
    send_due_messages()
    reply = Reply.objects.get()
    assert (reply.outcome, reply.clinic, reply.answer.clinic) == ("opted_out", None, None)
    [(to, text)] = answers_sent(channel_calls)
    assert to == "+15145559999" and text.startswith("Vous ne recevrez plus de textos")


def test_an_ok_after_the_hubs_answer_still_confirms_the_appointment(client, twilio_settings, texted, channel_calls):
    text_back(client, "aide", sid="SM1")
    send_due_messages()
    text_back(client, "OK", sid="SM2")
    texted.refresh_from_db()
    assert texted.status == "confirmed_sms"


def test_each_reply_is_answered_at_most_once(client, twilio_settings, texted, channel_calls):
    text_back(client, "STOP", sid="SMsame")
    text_back(client, "STOP", sid="SMsame")  # Twilio delivered it twice
    understand(Reply.objects.get().pk)  # read again
    send_due_messages()
    send_due_messages()
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 1
    assert len(answers_sent(channel_calls)) == 1


def test_an_answer_the_provider_refuses_for_the_number_fails_and_goes_nowhere_else(
    client, twilio_settings, texted, channel_calls
):
    text_back(client, "STOP")
    error = TransportError("Twilio 21610", BAD_ADDRESS)  # Twilio's own opt-out blocks it
    error.opted_out = True
    RecordingChannel.failures.append(error)
    before = Message.objects.count()
    send_due_messages()
    answer = Reply.objects.get().answer
    answer.refresh_from_db()
    assert (answer.state, answer.reason) == ("failed", "bad_address")
    assert Message.objects.count() == before  # no resend to the next contact
    assert not answer.can_be_sent_again


def test_with_answers_off_opt_outs_and_requests_are_still_recorded(client, twilio_settings, texted, settings):
    settings.HUB_SMS_ANSWERS = False
    text_back(client, "CANCEL")
    assert OptOut.objects.exists()
    assert (Reply.objects.get().outcome, Reply.objects.get().answer) == ("wants_to_cancel", None)
    assert not Message.objects.filter(kind=Message.Kind.ANSWER).exists()


def test_an_answer_is_written_when_sent_in_the_language_the_patient_record_says_then(
    client, twilio_settings, texted, channel_calls
):
    text_back(client, "HELP")
    texted.patient.language = "en"
    texted.patient.save()
    send_due_messages()
    [(_, text)] = answers_sent(channel_calls)
    assert text.startswith("Clinique du Parc: appointment notices")


def test_an_answer_mentions_the_patients_phone_nowhere(client, twilio_settings, texted, channel_calls):
    text_back(client, "aide")
    send_due_messages()
    [(_, text)] = answers_sent(channel_calls)
    assert "555-0111" not in text and PHONE not in text
    assert sms_message(texted).replies.get().answer is not None


def test_the_answer_is_in_the_language_chosen_when_booking_online(client, twilio_settings, texted, channel_calls):
    """R20: the patient's record says French; the appointment was booked online in English."""
    texted.refresh_from_db()
    texted.source, texted.booking_language = "online_hub", "en"
    texted.save()
    text_back(client, "I want to cancel")
    send_due_messages()
    [(_, text)] = answers_sent(channel_calls)
    assert text == answers.write(snapshot(answers.CANCEL_REQUEST), "en")


def test_an_answer_the_provider_reports_undelivered_goes_nowhere_else(client, twilio_settings, texted, channel_calls):
    from outbox.tracking import record_outcome

    text_back(client, "AIDE")
    send_due_messages()
    answer = Reply.objects.get().answer
    before = Message.objects.count()
    record_outcome(answer.public_id, Message.State.FAILED, "sms_not_delivered", bad_address=True, detail="30005")
    answer.refresh_from_db()
    assert answer.state == "failed"
    assert Message.objects.count() == before


def test_the_patients_own_words_stay_out_of_the_appointment_history(client, twilio_settings, texted):
    text_back(client, "Annulez, j'ai une chimio demain", sid="SM1")
    text_back(client, "STOP", sid="SM2")
    for line in texted.history.all():
        assert "chimio" not in line.text.lower() and "chimio" not in str(line.events).lower()


def test_a_number_that_opted_out_gets_no_answer_to_a_request_to_cancel(client, twilio_settings, texted, channel_calls):
    text_back(client, "STOP", sid="SM1")
    text_back(client, "je veux annuler", sid="SM2")
    assert Reply.objects.get(provider_id="SM2").outcome == "wants_to_cancel"  # staff still see it
    assert Reply.objects.get(provider_id="SM2").answer is None


def test_the_same_keyword_again_and_again_is_answered_once_in_five_minutes(
    client, twilio_settings, texted, channel_calls, clock
):
    for number in range(4):
        text_back(client, "HELP", sid=f"SM{number}")
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 1
    clock.shift(6 * 60)
    text_back(client, "HELP", sid="SMlater")
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 2


def test_the_answer_is_listed_with_the_appointments_communications(client, twilio_settings, texted, channel_calls):
    text_back(client, "aide")
    send_due_messages()
    assert texted.messages.filter(kind=Message.Kind.ANSWER, state="sent").count() == 1
    texted.refresh_from_db()
    assert texted.status == "sent_sms"  # an answer changes no status


def test_a_second_ok_to_a_confirmed_appointment_changes_nothing(client, twilio_settings, texted):
    text_back(client, "OK", sid="SM1")
    text_back(client, "Oui", sid="SM2")
    texted.refresh_from_db()
    assert texted.status == "confirmed_sms"
    assert Reply.objects.get(provider_id="SM2").outcome == "already"
    said = [e for line in texted.history.all() for e in line.events if e["kind"] == "confirmed_by_sms"]
    assert len(said) == 1


def test_start_is_in_the_appointments_history_with_the_word_the_patient_sent(client, twilio_settings, texted):
    text_back(client, "STOP", sid="SM1")
    text_back(client, "Unstop!", sid="SM2")
    assert texted.history.order_by("-id").first().text == (
        "Le mobile du patient (514) 555-0111 a répondu UNSTOP\u00a0: les textos peuvent de nouveau lui être envoyés."
    )


def test_a_reply_is_read_once_and_reading_it_again_says_what_it_was(client, twilio_settings, texted):
    post_signed(client, "/twilio/sms/", {"From": MOBILE, "Body": "Oui", "MessageSid": "SM1"})
    post_signed(client, "/twilio/sms/", {"From": MOBILE, "Body": "aide", "MessageSid": "SM2"})
    first, second = Reply.objects.order_by("id")
    assert understand(first.pk) == "confirmed"
    assert understand_waiting() == 1  # the second
    assert understand_waiting() == 0
    assert (understand(first.pk), understand(second.pk)) == ("confirmed", "help")


def test_the_same_answer_within_five_minutes_is_not_sent_again(client, twilio_settings, texted, clock):
    text_back(client, "HELP", sid="SM1")
    clock.shift(5 * 60)  # exactly five minutes later: still the same conversation
    text_back(client, "HELP", sid="SM2")
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 1
    clock.shift(1)
    text_back(client, "HELP", sid="SM3")
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 2


def test_an_answer_wakes_the_worker_to_send_it_now(client, twilio_settings, texted, monkeypatch):
    woken = []
    monkeypatch.setattr("confirmations.replies.wake_the_worker_after_commit", lambda: woken.append(1))
    text_back(client, "AIDE")
    assert woken == [1]


def test_r27_an_ok_at_the_very_start_of_the_appointment_confirms_nothing(client, twilio_settings, texted, clock):
    clock.move_to(texted.start)
    text_back(client, "OK")
    texted.refresh_from_db()
    assert (texted.status, Reply.objects.get().outcome) == ("sent_sms", "no_appointment")


@pytest.mark.parametrize("sms", ["off", "missing"])
def test_with_sms_not_set_up_the_answer_fails_and_says_why(
    client, twilio_settings, texted, channel_calls, settings, sms
):
    text_back(client, "AIDE")
    channels = {**settings.HUB_CHANNELS, "sms": None}
    if sms == "missing":
        del channels["sms"]
    settings.HUB_CHANNELS = channels
    send_due_messages()
    answer = Message.objects.get(kind=Message.Kind.ANSWER)
    assert (answer.state, answer.reason, answer.attempts) == ("failed", "no_channel", 0)
    assert answers_sent(channel_calls) == []


def test_an_answer_sent_counts_one_attempt(client, twilio_settings, texted, channel_calls):
    text_back(client, "AIDE")
    send_due_messages()
    answer = Message.objects.get(kind=Message.Kind.ANSWER)
    assert (answer.state, answer.attempts) == ("sent", 1)
