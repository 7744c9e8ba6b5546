"""The dispatcher sends what is due, once, to the right contact, and keeps
staff informed (issue 3: SPEC R10–R14, R19, R20, R29, D3, D4, D9)."""

import signal
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError, transaction
from django.utils import timezone
from django_q.models import Schedule

from conftest import TORONTO, RecordingChannel, book, make_patient, make_slot
from outbox.dispatch import backoff, batch_size, record_sent, send_due_messages
from outbox.models import Message
from outbox.outcomes import REFUSED, TransportError
from schedules.models import Appointment, StatusChange

pytestmark = pytest.mark.django_db

BOOKED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)  # ten days before the slot (2026-12-03 14:30)
REMINDER_AT = datetime(2026, 12, 1, 14, 30, tzinfo=TORONTO)


@pytest.fixture
def clock():
    with time_machine.travel(BOOKED_AT, tick=False) as traveller:
        yield traveller


def sent(kind: str) -> Message:
    return Message.objects.get(kind=kind)


class TestEmail:
    """Through Django's mail API (the locmem backend under test)."""

    def test_r29_the_confirmation_goes_out_and_the_status_says_when_and_where(self, slot, patient, clock):
        appointment = book(slot, patient)
        summary = send_due_messages()
        assert (summary["sent"], summary["failed"]) == (1, 0)
        assert [message.to for message in mail.outbox] == [["jean@example.com"]]
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.SENT_EMAIL
        assert (
            appointment.latest_communication == "Envoyé par courriel le 23 novembre 2026 à 10\u00a0h à jean@example.com"
        )
        line = appointment.history.last()
        assert (line.actor, line.status) == ("hub", "sent_email")
        assert line.text == "Confirmation\u00a0: envoi par courriel le 23 novembre 2026 à 10\u00a0h à jean@example.com."

    def test_it_renders_the_content_at_send_time_in_the_patients_language(self, slot, clinic, clock):
        book(slot, make_patient(clinic, language="en", email="john@example.com", first_name="John"))
        send_due_messages()
        message = sent("confirmation")
        assert message.subject == "Your appointment on Thursday, December 3, 2026 at 2:30 PM is booked"
        assert "Marie Tremblay" in message.content and "Clinique du Parc" in message.content
        assert mail.outbox[0].body == message.content

    def test_r9_the_reminder_goes_48_hours_before_and_updates_the_note(self, slot, patient, clock):
        appointment = book(slot, patient)
        send_due_messages()
        clock.move_to(REMINDER_AT - timedelta(minutes=1))
        assert send_due_messages()["sent"] == 0
        clock.move_to(REMINDER_AT)
        assert send_due_messages()["sent"] == 1
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.SENT_EMAIL
        sent_on = "par courriel le 1er décembre 2026 à 14\u00a0h\u00a030 à jean@example.com"
        assert appointment.latest_communication == f"Envoyé {sent_on}"
        assert appointment.history.last().text == f"Rappel\u00a0: envoi {sent_on}."

    def test_a_pass_with_nothing_due_sends_nothing(self, slot, patient, clock):
        book(slot, patient)
        send_due_messages()
        assert str(send_due_messages()) == "0 sent, 0 failed, 0 withdrawn, 0 retrying, 0 postponed, 0 outcome unknown"


class TestContacts:
    """R19, D9: the contact is chosen when the message goes, from the record as it is then."""

    @pytest.mark.parametrize(
        ("record", "channel", "to"),
        [
            ({"email": "a@example.com", "other_email": "b@example.com"}, "email", "a@example.com"),
            ({"email": "", "other_email": "b@example.com", "mobile": "+15145550111"}, "email", "b@example.com"),
            ({"email": "", "mobile": "514 555-0111", "phone": "+14505550111"}, "sms", "+15145550111"),
            ({"email": "", "phone": "+14505550111"}, "voice", "+14505550111"),
            ({"email": "pas-un-courriel", "mobile": "555-12", "phone": "+14505550111"}, "voice", "+14505550111"),
        ],
        ids=["R19 email first", "R19 other email", "R19 mobile by SMS", "R19 phone by voice", "D9 malformed skipped"],
    )
    def test_it_uses_the_first_usable_contact(self, slot, clinic, channel_calls, clock, record, channel, to):
        book(slot, make_patient(clinic, **record))
        send_due_messages()
        assert [(call[1], call[2]) for call in channel_calls] == [(channel, to)]
        assert Appointment.objects.get().status == f"sent_{channel}"

    def test_r19_other_mobile_and_other_phone_are_never_used(self, slot, clinic, channel_calls, clock):
        appointment = book(
            slot, make_patient(clinic, email="", other_mobile="+15145550111", other_phone="+15145550112")
        )
        assert send_due_messages()["failed"] == 1
        assert channel_calls == []
        assert sent("confirmation").reason == "no_contact"
        appointment.refresh_from_db()
        assert appointment.status == "booked"
        assert appointment.history.last().text == (
            "Confirmation\u00a0: échec de l’envoi, aucun moyen de contact utilisable dans le dossier du patient."
        )

    def test_d9_a_contact_changed_after_booking_receives_the_reminder(self, slot, patient, channel_calls, clock):
        book(slot, patient)
        send_due_messages()
        patient.email = "nouveau@example.com"
        patient.save()
        clock.move_to(REMINDER_AT)
        send_due_messages()
        assert [call[2] for call in channel_calls] == ["jean@example.com", "nouveau@example.com"]

    @pytest.mark.parametrize(
        ("address", "usable"),
        [("chloe@example.com", True), ("chloe@exámple.com", True), ("chloé@example.com", False), ("chloe@", False)],
    )
    def test_d9_the_booking_forms_ask_the_same_as_the_dispatcher_whether_an_email_is_usable(
        self, slot, clinic, channel_calls, clock, address, usable
    ):
        from outbox.contacts import usable_email

        book(slot, make_patient(clinic, email=address, mobile="+15145550111"))
        send_due_messages()
        assert usable_email(address) is usable
        assert channel_calls[0][1] == ("email" if usable else "sms")


class TestCalls:
    """R14, D3: calls only from 09:00 to 20:00, clinic time."""

    @pytest.fixture
    def caller(self, clinic):
        return make_patient(clinic, email="", phone="+14505550111")

    def test_r14_a_call_due_in_the_evening_waits_for_the_morning(self, slot, caller, channel_calls, clock):
        clock.move_to(datetime(2026, 11, 23, 20, 0, tzinfo=TORONTO))
        book(slot, caller)
        assert send_due_messages()["sent"] == 0
        clock.move_to(datetime(2026, 11, 24, 8, 59, tzinfo=TORONTO))
        assert send_due_messages()["sent"] == 0
        clock.move_to(datetime(2026, 11, 24, 9, 0, tzinfo=TORONTO))
        assert send_due_messages()["sent"] == 1
        assert Appointment.objects.get().status == "sent_voice"

    def test_r14_d9_a_contact_that_became_a_phone_waits_for_the_window(self, slot, patient, channel_calls, clock):
        clock.move_to(datetime(2026, 11, 23, 21, 0, tzinfo=TORONTO))
        book(slot, patient)  # planned as an email, at once
        patient.email, patient.phone = "", "+14505550111"
        patient.save()
        assert send_due_messages()["postponed"] == 1
        assert sent("confirmation").due_at == datetime(2026, 11, 24, 9, 0, tzinfo=TORONTO)

    @pytest.mark.parametrize("hour, minute", [(8, 30), (9, 0)])
    def test_d3_a_call_that_cannot_be_placed_before_the_start_is_withdrawn(self, professional, service, patient,
                                                                          channel_calls, clock, hour, minute):  # fmt: skip
        # 08:30, or 09:00: a call at the very start is no reminder either.
        early = make_slot(professional, service, datetime(2026, 12, 3, hour, minute, tzinfo=TORONTO))
        clock.move_to(datetime(2026, 12, 2, 12, 0, tzinfo=TORONTO))
        book(early, patient)  # by email: confirmation and reminder at once (R11)
        patient.email, patient.phone = "", "+14505550111"
        patient.save()
        clock.move_to(datetime(2026, 12, 2, 20, 30, tzinfo=TORONTO))  # the next call window opens at 09:00
        assert send_due_messages()["withdrawn"] == 2
        assert channel_calls == []
        assert dict(Message.objects.values_list("kind", "reason")) == {
            "confirmation": "no_confirmation_call",  # R12
            "reminder": "no_call_window",  # R14, D3
        }

    def test_r12_a_confirmation_due_exactly_48_hours_ahead_by_phone_is_placed(
        self, slot, patient, channel_calls, clock
    ):
        book(slot, patient)  # planned as an email, not sent yet
        patient.email, patient.phone = "", "+14505550111"
        patient.save()
        clock.move_to(slot.start - timedelta(hours=48))  # 14:30, in the call window
        send_due_messages()
        assert dict(Message.objects.values_list("kind", "state")) == {"confirmation": "sent", "reminder": "sent"}


class TestRecheck:
    """D4: when due, a message that no longer tells the truth is withdrawn."""

    def test_d4_a_worker_down_for_hours_sends_what_is_still_relevant(self, slot, patient, clinic, channel_calls, clock):
        later_slot = type(slot).objects.create(
            professional=slot.professional,
            service=slot.service,
            start=slot.start + timedelta(days=10),
            end=slot.end + timedelta(days=10),
        )
        soon = book(slot, patient)
        book(later_slot, make_patient(clinic, first_name="Anne", email="anne@example.com"))
        # The worker is down from the booking until after the first appointment.
        clock.move_to(slot.end)
        summary = send_due_messages()
        assert (summary["sent"], summary["withdrawn"]) == (1, 2)
        assert [call[2] for call in channel_calls] == ["anne@example.com"]
        reasons = set(soon.messages.values_list("reason", flat=True))
        assert reasons == {"past"}
        assert soon.history.last().text == "Rappel\u00a0: envoi annulé, le rendez-vous est déjà passé."

    def test_d4_a_message_planned_for_another_start_is_withdrawn(self, slot, patient, channel_calls, clock):
        appointment = book(slot, patient)
        message = sent("confirmation")
        # Simulate a change that bypassed planning: the row still says the old start.
        Message.objects.filter(pk=message.pk).update(planned_start=appointment.start - timedelta(hours=1))
        assert send_due_messages()["withdrawn"] == 1
        assert sent("confirmation").why == "le rendez-vous a été déplacé"

    def test_d7_a_deleted_appointments_cancellation_is_rendered_from_its_snapshot(self, slot, patient, clock):
        appointment = book(slot, patient)
        send_due_messages()
        appointment.delete()
        send_due_messages()
        cancellation = sent("cancellation")
        assert cancellation.state == "sent" and cancellation.appointment is None
        assert "jeudi 3 décembre 2026 à 14\u00a0h\u00a030" in cancellation.subject
        assert "Annulation" in cancellation.subject
        history = StatusChange.objects.filter(appointment_ref=appointment.public_id)
        assert [line.text for line in history][-2:] == [
            "Supprimé. Messages en attente retirés\u00a0: le rendez-vous a été supprimé. "
            "Annulation\u00a0: envoi prévu maintenant.",
            "Annulation\u00a0: envoi par courriel le 23 novembre 2026 à 10\u00a0h à jean@example.com.",
        ]
        assert history.last().appointment is None and history.last().actor == "hub"

    def test_r20_d9_the_patient_reads_the_language_and_clinic_details_of_the_moment_it_is_sent(
        self, slot, patient, clinic, clock
    ):
        book(slot, patient)  # planned in French
        patient.language = "en"
        patient.save()
        clinic.phone = "+15145550199"
        clinic.save()
        send_due_messages()
        confirmation = sent("confirmation")
        assert confirmation.language == "en" and confirmation.subject.startswith("Your appointment")
        assert "555-0199" in confirmation.content and "555-0100" not in confirmation.content

    def test_r18_a_cancellation_tells_of_the_appointment_as_it_was_when_cancelled(self, slot, patient, clock):
        appointment = book(slot, patient)
        send_due_messages()
        appointment.refresh_from_db()
        appointment.status = Appointment.Status.CANCELLED
        appointment.save()
        patient.language = "en"
        patient.save()
        slot.professional.last_name = "Autrenom"
        slot.professional.save()
        send_due_messages()
        cancellation = sent("cancellation")
        assert cancellation.language == "fr" and cancellation.subject.startswith("Annulation")
        assert "Autrenom" not in cancellation.content

    def test_d13_the_former_patients_cancellation_leaves_the_new_patients_status(self, slot, patient, clinic, clock):
        appointment = book(slot, patient)
        send_due_messages()
        appointment.refresh_from_db()
        appointment.patient = make_patient(clinic, first_name="Anne", email="anne@example.com")
        appointment.save()
        send_due_messages()
        assert sorted(message.to[0] for message in mail.outbox) == sorted(
            ["jean@example.com", "jean@example.com", "anne@example.com"]
        )
        appointment.refresh_from_db()
        assert appointment.latest_communication.endswith("anne@example.com")
        # The former patient's cancellation is in the history; the status is the new patient's.
        assert [line.text for line in appointment.history.all()][-2:] == [
            "Annulation\u00a0: envoi par courriel le 23 novembre 2026 à 10\u00a0h à jean@example.com.",
            "Confirmation\u00a0: envoi par courriel le 23 novembre 2026 à 10\u00a0h à anne@example.com.",
        ]


class TestFailures:
    def test_a_temporary_error_is_retried_with_backoff(self, slot, patient, channel_calls, clock):
        RecordingChannel.failures = [TransportError("provider down")]
        book(slot, patient)
        assert send_due_messages()["retrying"] == 1
        message = sent("confirmation")
        assert (message.state, message.attempts, message.error) == ("pending", 1, "provider down")
        assert message.due_at == timezone.now() + timedelta(minutes=1)
        clock.shift(timedelta(minutes=1))
        assert send_due_messages()["sent"] == 1
        assert len(channel_calls) == 1

    def test_the_retry_schedule_is_1_2_4_8_then_every_10_minutes(self, slot, patient, channel_calls, clock):
        RecordingChannel.failures = [TransportError("provider down") for _ in range(7)]
        book(slot, patient)
        waits = []
        for _ in range(7):
            assert send_due_messages()["retrying"] == 1
            message = sent("confirmation")
            waits.append(message.due_at - timezone.now())
            clock.move_to(message.due_at)
        assert waits == [timedelta(minutes=minutes) for minutes in (1, 2, 4, 8, 10, 10, 10)]
        assert send_due_messages()["sent"] == 1
        assert len(channel_calls) == 1

    def test_d15_temporary_errors_are_retried_while_true_then_withdrawn(self, slot, patient, channel_calls, clock):
        # A provider down for days: the confirmation is retried until the
        # appointment has passed, then withdrawn, never failed for a count.
        RecordingChannel.failures = [TransportError("provider down") for _ in range(10_000)]
        book(slot, patient)
        for _ in range(2000):
            summary = send_due_messages()
            if summary["withdrawn"]:
                break
            clock.shift(timedelta(minutes=10))
        message = sent("confirmation")
        assert (message.state, message.reason, message.error) == ("withdrawn", "past", "")
        assert message.attempts > 5
        assert channel_calls == []

    def test_a_permanent_error_fails_at_once(self, slot, patient, channel_calls, clock):
        RecordingChannel.failures = [TransportError("mailbox does not exist", REFUSED)]
        appointment = book(slot, patient)
        assert send_due_messages()["failed"] == 1
        assert sent("confirmation").why == "refusé par le fournisseur (mailbox does not exist)"
        assert appointment.history.last().text == (
            "Confirmation\u00a0: échec de l’envoi, refusé par le fournisseur (mailbox does not exist)."
        )

    def test_an_unexpected_error_is_never_retried(self, slot, patient, channel_calls, clock, monkeypatch, caplog):
        def explode(self, message):
            raise RuntimeError("bug")

        monkeypatch.setattr(RecordingChannel, "send", explode)
        appointment = book(slot, patient)
        with caplog.at_level("ERROR", logger="outbox.dispatch"):
            assert send_due_messages()["outcome unknown"] == 1
        [logged] = [record for record in caplog.records if record.name == "outbox.dispatch"]
        assert logged.getMessage() == f"channel email raised while sending message {sent('confirmation').public_id}"
        assert logged.exc_info[0] is RuntimeError
        assert appointment.history.last().text.startswith(
            "Confirmation\u00a0: résultat inconnu (erreur inattendue dans le Hub (RuntimeError))."
        )
        clock.shift(timedelta(hours=1))
        assert send_due_messages()["outcome unknown"] == 0
        assert sent("confirmation").state == "unknown"

    def test_a_message_stuck_in_sending_is_never_sent_again(self, slot, patient, channel_calls, clock):
        appointment = book(slot, patient)
        Message.objects.filter(kind="confirmation").update(state="sending", claimed_at=timezone.now())
        clock.shift(timedelta(minutes=15) - timedelta(seconds=1))
        assert send_due_messages()["outcome unknown"] == 0
        clock.shift(timedelta(seconds=2))
        assert send_due_messages()["outcome unknown"] == 1
        message = sent("confirmation")
        assert (message.state, message.why) == ("unknown", "l’envoi a été interrompu")
        assert channel_calls == []
        assert appointment.history.last().text == (
            "Confirmation\u00a0: résultat inconnu (l’envoi a été interrompu). Le patient a peut-être reçu ce "
            "message\u00a0; il ne sera pas renvoyé automatiquement."
        )


class TestRunningIt:
    def test_the_command_prints_a_one_line_summary(self, slot, patient, clock, capsys):
        book(slot, patient)
        call_command("send_due_messages")
        assert capsys.readouterr().out.strip() == (
            "send_due_messages: 1 sent, 0 failed, 0 withdrawn, 0 retrying, 0 postponed, 0 outcome unknown"
        )

    def test_the_worker_runs_it_every_minute(self):
        schedule = Schedule.objects.get(name="send due messages")
        assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
            "confirmations.tasks.send_due_messages",
            Schedule.MINUTES,
            1,
        )


class TestRacesWithStaff:
    """Found in review: the dispatcher must never undo what staff did meanwhile."""

    def test_a_cancellation_made_while_the_confirmation_is_sent_stands(
        self, slot, patient, channel_calls, clock, monkeypatch
    ):
        appointment = book(slot, patient)

        def staff_cancels_meanwhile(self, message):
            fresh = Appointment.objects.get(pk=appointment.pk)
            fresh.status = Appointment.Status.CANCELLED
            fresh.save()
            return "test-1"

        monkeypatch.setattr(RecordingChannel, "send", staff_cancels_meanwhile)
        send_due_messages()
        appointment.refresh_from_db()
        assert appointment.status == "cancelled"
        assert Message.objects.get(kind="cancellation").state == "sent"  # in the same pass
        assert not Message.objects.filter(state="pending").exclude(kind="cancellation").exists()

    def test_the_per_minute_task_sends_within_its_budget(self, slot, patient, channel_calls, clock):
        """The live worker runs the pass with a budget (25 s): a budget
        computed backwards would send nothing, and every test with none
        or a spent one would still pass."""
        from confirmations import tasks

        book(slot, patient)
        assert tasks.send_due_messages().startswith("1 sent")
        assert sent("confirmation").state == "sent"

    def test_a_pass_with_a_spent_budget_claims_nothing(self, slot, patient, channel_calls, clock):
        book(slot, patient)
        assert send_due_messages(budget=timedelta(0))["sent"] == 0
        assert sent("confirmation").state == "pending"


class TestBatches:
    """A batch of claimed messages: whatever goes wrong with one, none of
    the others is left claimed without having been sent."""

    def test_a_message_that_cannot_be_prepared_fails_alone(
        self, slot, patient, clinic, professional, service, channel_calls, clock, monkeypatch, caplog
    ):
        from confirmations import composing

        book(slot, patient)
        other = book(
            make_slot(professional, service, slot.start + timedelta(hours=2)),
            make_patient(clinic, first_name="Anne", email="anne@example.com"),
        )
        real_render = composing.render

        def broken_for_anne(kind, channel, language, snapshot, ref):
            if ref == other.public_id:
                raise KeyError("template")
            return real_render(kind, channel, language, snapshot, ref)

        monkeypatch.setattr(composing, "render", broken_for_anne)
        with caplog.at_level("ERROR", logger="outbox.dispatch"):
            summary = send_due_messages()
        [logged] = [record for record in caplog.records if record.name == "outbox.dispatch"]
        assert logged.getMessage() == (
            f"preparing message {Message.objects.get(appointment=other, kind='confirmation').public_id} failed"
        )
        assert logged.exc_info[0] is KeyError
        assert (summary["sent"], summary["failed"]) == (1, 1)
        assert (
            Message.objects.get(appointment=other, kind="confirmation").why
            == "erreur inattendue dans le Hub (KeyError)"
        )
        assert not Message.objects.filter(state="sending").exists()

    def test_if_recording_fails_the_messages_never_called_go_back_to_pending(
        self, slot, patient, clinic, professional, service, channel_calls, clock, monkeypatch
    ):
        from outbox import dispatch

        for hours in range(3):
            book(
                make_slot(professional, service, slot.start + timedelta(hours=hours + 1)),
                make_patient(clinic, first_name=f"P{hours}"),
            )

        def database_gone(message, now, provider_id):
            raise RuntimeError("database gone")

        monkeypatch.setattr(dispatch, "record_sent", database_gone)
        with pytest.raises(RuntimeError):
            send_due_messages()
        # The one whose call started may have reached the provider: it waits
        # for the lease (outcome unknown). The others never left: pending.
        states = sorted(Message.objects.filter(kind="confirmation").values_list("state", flat=True))
        assert states == ["pending", "pending", "sending"]
        assert len(channel_calls) == 1

    def test_a_confirmation_and_its_reminder_due_together_go_out_in_that_order(
        self, professional, service, patient, channel_calls, clock
    ):
        soon = make_slot(professional, service, BOOKED_AT + timedelta(hours=30))  # under 48 h: both due now (R11)
        book(soon, patient)
        assert send_due_messages()["sent"] == 2
        kinds = [Message.objects.get(pk=call[0]).kind for call in channel_calls]
        assert kinds == ["confirmation", "reminder"]

    def test_no_provider_call_starts_once_the_pass_time_is_spent(self, slot, patient, channel_calls, clock):
        import time

        from outbox.dispatch import Senders, deliver
        from outbox.states import claim_due

        book(slot, patient)
        batch = claim_due(10)
        with Senders(deadline=time.monotonic() - 1) as senders:
            assert deliver(batch, senders) == ["postponed"]
        message = Message.objects.get(kind="confirmation")
        assert (message.state, message.attempts) == ("pending", 0)  # as it was: it never left
        assert channel_calls == []


class TestChannelsSwitchedOnOneByOne:
    """An email-only Hub (no Twilio) is a valid configuration: a contact by
    SMS or phone is skipped for the next one (R19), the history says so,
    and nothing is marked sent that did not leave."""

    @pytest.fixture
    def email_only(self, settings, channel_calls):
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "sms": None, "voice": None}
        return channel_calls

    def test_a_patient_reachable_only_by_sms_fails_with_the_reason(self, slot, clinic, email_only, clock):
        appointment = book(slot, make_patient(clinic, email="", mobile="+15145550111", phone="+14505550111"))
        assert send_due_messages()["failed"] == 1
        assert email_only == []  # nothing left, nothing marked sent
        message = sent("confirmation")
        assert (message.state, message.reason) == ("failed", "no_channel")
        said = [change.text for change in appointment.history.filter(actor="hub")]
        assert said[:1] == [
            "Confirmation\u00a0: échec de l’envoi, aucun moyen de contact du dossier du patient par un canal que ce "
            "Hub utilise."
        ]
        appointment.refresh_from_db()
        assert appointment.status == "booked"

    def test_after_a_bounce_the_sms_fallback_is_skipped_not_marked_sent(self, slot, clinic, email_only, clock):
        from outbox.outcomes import BAD_ADDRESS

        RecordingChannel.failures = [TransportError("SMTP RCPT 550 5.1.1 User unknown", BAD_ADDRESS)]
        book(slot, make_patient(clinic, email="jean@example.com", mobile="+15145550111"))
        send_due_messages()
        [email] = Message.objects.filter(kind="confirmation")  # no resend: no contact left this Hub can use
        assert email.state == "failed"
        assert email_only == []  # the email bounced, and no SMS left (nor was marked sent)

    def test_a_skipped_channel_is_said_once_however_often_the_message_is_tried(
        self, slot, clinic, settings, channel_calls, clock
    ):
        settings.HUB_CHANNELS = {**settings.HUB_CHANNELS, "email": None}  # SMS and calls only
        appointment = book(slot, make_patient(clinic, email="jean@example.com", mobile="+15145550111"))
        RecordingChannel.failures = [TransportError("Twilio ConnectionError") for _ in range(3)]
        for _ in range(4):
            send_due_messages()
            clock.shift(timedelta(minutes=10))
        assert [call[1] for call in channel_calls] == ["sms"]
        said = [change.text for change in appointment.history.filter(actor="hub")]
        off = "Confirmation\u00a0: le canal «\u00a0courriel\u00a0» n’est pas configuré sur ce Hub\u00a0; "
        assert sum(line.startswith(off) for line in said) == 1


class TestPromisedNumbers:
    def test_the_wait_after_each_temporary_failure_is_1_2_4_8_then_10_minutes(self):
        assert [backoff(attempts) for attempts in range(1, 8)] == [
            timedelta(minutes=minutes) for minutes in (1, 2, 4, 8, 10, 10, 10)
        ]

    @pytest.mark.parametrize(
        "concurrency, batch, size",
        [(32, 0, 32), (4, 2, 2), (4, 1, 1), (4, 9, 4), (4, -1, 4), (1, 0, 1), (0, 0, 1), (-3, 0, 1)],
    )
    def test_a_batch_is_one_wave_of_provider_calls(self, settings, concurrency, batch, size):
        settings.HUB_SEND_CONCURRENCY, settings.HUB_SEND_BATCH = concurrency, batch
        assert batch_size() == size


@pytest.mark.django_db(transaction=True)  # outside the test's transaction, as in the worker
class TestRecordingAfterTheProviderCall:
    """What the provider did cannot be undone: its outcome is written again
    on a fresh connection if the database connection dropped, 5 times, a
    second apart."""

    @pytest.fixture
    def reconnections(self, monkeypatch):
        from outbox import dispatch

        happened = {"sleeps": [], "closes": 0}
        monkeypatch.setattr(dispatch.time, "sleep", happened["sleeps"].append)

        def close():
            happened["closes"] += 1

        monkeypatch.setattr(dispatch.connection, "close", close)
        return happened

    @staticmethod
    def dropping(times: int):
        tries = []

        def write():
            tries.append(1)
            if len(tries) <= times:
                raise OperationalError("server closed the connection unexpectedly")
            return "recorded"

        return write, tries

    def test_it_is_written_on_the_fifth_try(self, reconnections, caplog):
        from outbox.dispatch import durably

        write, tries = self.dropping(4)
        with caplog.at_level("WARNING", logger="outbox.dispatch"):
            assert durably(write) == "recorded"
        assert (len(tries), reconnections) == (5, {"sleeps": [1.0] * 4, "closes": 4})
        warned = [record for record in caplog.records if record.name == "outbox.dispatch"]
        assert [record.getMessage() for record in warned] == [
            "database connection lost while recording an outcome; retrying"
        ] * 4
        assert all(record.exc_info[0] is OperationalError for record in warned)

    def test_after_five_tries_it_gives_up_and_the_lease_will_say_unknown(self, reconnections):
        from outbox.dispatch import durably

        write, tries = self.dropping(5)
        with pytest.raises(OperationalError):
            durably(write)
        assert len(tries) == 5

    def test_inside_a_transaction_it_cannot_reconnect_and_fails_at_once(self, reconnections):
        from outbox.dispatch import durably

        write, tries = self.dropping(1)
        with pytest.raises(OperationalError), transaction.atomic():
            durably(write)
        assert (len(tries), reconnections["closes"]) == (1, 0)


class TestManyAtOnce:
    """HUB_SEND_CONCURRENCY provider calls at once (the tests otherwise run one at a time)."""

    @staticmethod
    def bookings(professional, service, clinic, count: int) -> list[Appointment]:
        return [
            book(
                make_slot(professional, service, datetime(2026, 12, 3, 9 + n, 0, tzinfo=TORONTO)),
                make_patient(clinic, first_name=f"P{n}", email=f"p{n}@example.com"),
            )
            for n in range(count)
        ]

    def test_calls_run_side_by_side_and_their_threads_end_with_the_pass(
        self, professional, service, clinic, channel_calls, clock, settings, monkeypatch
    ):
        settings.HUB_SEND_CONCURRENCY = 2
        both_in_flight = threading.Barrier(2, timeout=5)
        record = RecordingChannel.send

        def meet_then_send(self, message):
            both_in_flight.wait()  # one at a time, the first would wait here in vain
            return record(self, message)

        monkeypatch.setattr(RecordingChannel, "send", meet_then_send)
        self.bookings(professional, service, clinic, 2)
        assert send_due_messages()["sent"] == 2
        assert not [thread for thread in threading.enumerate() if thread.name.startswith("hub-send")]

    def test_a_confirmation_and_its_reminder_claimed_together_go_in_turn(
        self, professional, service, patient, channel_calls, clock, settings
    ):
        settings.HUB_SEND_CONCURRENCY = 4
        book(make_slot(professional, service, BOOKED_AT + timedelta(hours=30)), patient)  # both due now (R11)
        summary = send_due_messages()
        assert (summary["sent"], summary["postponed"]) == (2, 1)  # the reminder waited for the next wave
        assert [Message.objects.get(pk=call[0]).kind for call in channel_calls] == ["confirmation", "reminder"]
        assert list(Message.objects.order_by("id").values_list("attempts", flat=True)) == [1, 1]


class LatePool:
    """In place of the sender threads' pool, a pool the test controls: each
    call runs at once, but the one of the message held `late`, which starts
    only when the pass ends (a sender thread that took its call in time, and
    started it late)."""

    def __init__(self, late: int):
        self.late, self.held = late, []

    def __call__(self, max_workers: int, thread_name_prefix: str) -> "LatePool":
        return self

    def submit(self, call, message) -> Future:
        future = Future()
        if message.pk == self.late:
            self.late = None  # once: the next pass sends it at once
            self.held.append((future, call, message))
        else:
            future.set_result(call(message))
        return future

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        for future, call, message in self.held:
            future.set_result(call(message))
        self.held = []


class RacingPool:
    """In place of the sender threads' pool: each call runs at once, but the
    one of the message held `late` runs in its own thread, and stops in its
    first check of whether it may start (the stop flag) until `go`."""

    def __init__(self, late: int, checking: threading.Event, go: threading.Event):
        self.late, self.checking, self.go, self.threads = late, checking, go, []

    def __call__(self, max_workers: int, thread_name_prefix: str) -> "RacingPool":
        return self

    def submit(self, call, message) -> Future:
        future = Future()
        if message.pk != self.late:
            future.set_result(call(message))
            return future
        thread = threading.Thread(target=lambda: future.set_result(call(message)), name="late sender")
        self.threads.append(thread)
        thread.start()
        assert self.checking.wait(timeout=5)  # the call is under way, in its checks
        return future

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        for thread in self.threads:
            thread.join()

    def stop_flag(self) -> threading.Event:
        pool = self

        class StopFlag(threading.Event):
            def is_set(self) -> bool:
                if threading.current_thread().name == "late sender":
                    pool.checking.set()
                    pool.go.wait(timeout=5)
                return super().is_set()

        return StopFlag()


class TestAbandonedBatches:
    """D15: when an outcome cannot be recorded, the batch is abandoned and
    the messages whose call had not started go back to pending, for the next
    pass. A call that starts after that would send one of them twice."""

    @pytest.fixture
    def two_due(self, professional, service, clinic, channel_calls, clock, settings) -> list[Message]:
        settings.HUB_SEND_CONCURRENCY = 2  # one batch of two, each in its sender thread
        for hours in range(2):
            book(make_slot(professional, service, slot_start(hours)), make_patient(clinic, first_name=f"P{hours}"))
        return list(Message.objects.filter(kind="confirmation").order_by("due_at", "id"))

    @staticmethod
    def recording_fails(monkeypatch):
        from outbox import dispatch

        def database_gone(message, now, provider_id):
            raise RuntimeError("database gone")

        monkeypatch.setattr(dispatch, "record_sent", database_gone)
        return lambda: monkeypatch.setattr(dispatch, "record_sent", record_sent)

    def test_a_sender_thread_starting_after_its_batch_was_abandoned_sends_nothing(
        self, two_due, channel_calls, clock, monkeypatch
    ):
        from outbox import dispatch

        first, second = two_due
        monkeypatch.setattr(dispatch, "ThreadPoolExecutor", LatePool(late=second.pk))
        recovered = self.recording_fails(monkeypatch)
        with pytest.raises(RuntimeError):
            send_due_messages()
        assert [call[0] for call in channel_calls] == [first.pk]
        second.refresh_from_db()
        assert (second.state, second.attempts) == ("pending", 0)  # as it was: it never left
        recovered()
        send_due_messages()
        assert [call[0] for call in channel_calls] == [first.pk, second.pk]  # each once

    def test_a_sender_thread_starting_just_as_its_batch_is_abandoned_sends_nothing(
        self, two_due, channel_calls, clock, monkeypatch
    ):
        """The call was past its check of the batch when the batch was
        abandoned, and not yet on record as started when the dispatcher
        looked: it must not go on once its message is pending again."""
        from outbox import dispatch

        first, second = two_due
        pending_again = threading.Event()
        pool = RacingPool(late=second.pk, checking=threading.Event(), go=pending_again)
        monkeypatch.setattr(dispatch, "ThreadPoolExecutor", pool)
        monkeypatch.setattr(dispatch, "stopping", pool.stop_flag())
        release = dispatch._release

        def release_then_tell(message, attempt_counted=False):
            outcome = release(message, attempt_counted)
            if message.pk == second.pk:
                pending_again.set()
            return outcome

        monkeypatch.setattr(dispatch, "_release", release_then_tell)
        recovered = self.recording_fails(monkeypatch)
        with pytest.raises(RuntimeError):
            send_due_messages()
        second.refresh_from_db()
        assert [call[0] for call in channel_calls] == [first.pk]
        assert (second.state, second.attempts) == ("pending", 0)
        recovered()
        pool.late = None
        send_due_messages()
        assert [call[0] for call in channel_calls] == [first.pk, second.pk]  # each once


class TestStoppingTheWorker:
    """SIGTERM (outbox/worker.py): the pass finishes the call in
    flight, starts no other and claims no more; what it did not send stays
    pending for the next worker."""

    @pytest.fixture
    def sigterm(self, monkeypatch):
        """The worker's SIGTERM handler, as the signal would run it."""
        from outbox import dispatch, worker

        monkeypatch.setattr(dispatch, "stopping", threading.Event())
        monkeypatch.setattr(worker, "_asked_to_stop", False)
        return lambda: worker.stop_claiming(signal.SIGTERM, None)

    @pytest.mark.parametrize("concurrency", [1, 2])
    def test_a_message_being_prepared_when_sigterm_comes_is_not_sent_and_stays_pending(
        self, professional, service, clinic, channel_calls, clock, settings, monkeypatch, sigterm, concurrency
    ):
        from confirmations import composing
        from outbox import dispatch

        settings.HUB_SEND_CONCURRENCY = concurrency
        for hours in range(2):
            book(make_slot(professional, service, slot_start(hours)), make_patient(clinic, first_name=f"P{hours}"))
        render = composing.render

        def render_then_sigterm(*args):
            rendered = render(*args)
            sigterm()
            return rendered

        monkeypatch.setattr(composing, "render", render_then_sigterm)
        summary = send_due_messages()
        assert channel_calls == []
        assert summary["postponed"] == concurrency  # the batch being prepared; no other claimed
        rows = Message.objects.filter(kind="confirmation")
        assert sorted(rows.values_list("state", "attempts")) == [("pending", 0)] * 2  # as they were
        # The next worker (its flag down) sends each once.
        monkeypatch.setattr(composing, "render", render)
        dispatch.stopping.clear()
        assert send_due_messages()["sent"] == 2
        assert sorted(call[0] for call in channel_calls) == sorted(rows.values_list("pk", flat=True))


def test_with_no_mobile_to_check_no_opt_out_is_looked_up(patient, django_assert_num_queries):
    from outbox.contacts import opted_out_numbers

    patient.mobile = ""
    with django_assert_num_queries(0):
        assert opted_out_numbers([patient, None]) == set()


class TestWakingTheWorkerForWhatIsNew:
    """A message made by the dispatcher or by staff goes at once, not at the next minute."""

    def test_a_fallback_after_a_bad_address_wakes_the_worker(self, slot, clinic, channel_calls, clock, monkeypatch):
        from outbox import dispatch
        from outbox.outcomes import BAD_ADDRESS

        woken = []
        book(slot, make_patient(clinic, mobile="+15145550111"))
        RecordingChannel.failures = [TransportError("mailbox does not exist", BAD_ADDRESS)]
        monkeypatch.setattr(dispatch, "wake_the_worker_after_commit", lambda: woken.append(1))
        send_due_messages()
        assert Message.objects.filter(fallback_of__isnull=False).count() == 1 and woken == [1]

    def test_sending_again_by_hand_wakes_the_worker(self, slot, patient, channel_calls, clock, monkeypatch):
        from django.contrib.auth.models import User

        from outbox import dispatch

        book(slot, patient)
        Message.objects.filter(kind="confirmation").update(state="unknown")
        woken = []
        monkeypatch.setattr(dispatch, "wake_the_worker_after_commit", lambda: woken.append(1))
        assert dispatch.send_again(sent("confirmation"), User.objects.create_user("accueil")) is not None
        assert woken == [1]


def test_a_batch_that_fails_before_any_call_goes_back_to_pending_as_it_was(
    professional, service, clinic, channel_calls, clock, settings, monkeypatch
):
    from outbox import dispatch

    settings.HUB_SEND_CONCURRENCY = 4
    for hours in range(3):
        book(make_slot(professional, service, slot_start(hours)), make_patient(clinic, first_name=f"P{hours}"))

    def broken(self, messages, started, abandoned):
        raise RuntimeError("the sender threads could not start")
        yield  # a generator, like the real one

    monkeypatch.setattr(dispatch.Senders, "send", broken)
    with pytest.raises(RuntimeError):
        send_due_messages()
    rows = Message.objects.filter(kind="confirmation")
    assert sorted(rows.values_list("state", "attempts")) == [("pending", 0)] * 3  # prepared, saved, then undone
    assert channel_calls == []


def slot_start(hours: int) -> datetime:
    return datetime(2026, 12, 3, 9 + hours, 0, tzinfo=TORONTO)


def test_a_delivery_report_that_came_first_is_completed_by_the_send(slot, patient, channel_calls, clock):
    from outbox.dispatch import record_sent

    appointment = book(slot, patient)
    # Handed to the provider, whose "delivered" report won the race with the send's own answer.
    Message.objects.filter(kind="confirmation").update(state="delivered", channel="email", to="jean@example.com")
    message = sent("confirmation")
    record_sent(message, timezone.now(), "provider-42")
    message.refresh_from_db()
    assert (message.state, message.provider_id, message.sent_at) == ("delivered", "provider-42", timezone.now())
    record_sent(message, timezone.now(), "provider-42")  # written again after a lost acknowledgement
    sent_lines = [e for line in appointment.history.all() for e in line.events if e["kind"] == "sent"]
    assert len(sent_lines) == 1
