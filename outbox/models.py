"""The outbox: one row per communication to a patient.

The row is the truth (STYLE.md §2): it is written in the same transaction as
the appointment change that causes it, and the dispatcher moves it through
its states. The queue only makes sending faster.
"""

import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from history.events import Reason, because, event, readable_contact
from outbox.signals import message_noted
from schedules.actors import Actor


class Message(models.Model):
    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("confirmation")
        REMINDER = "reminder", _("reminder")
        MODIFICATION = "modification", _("modification")
        CANCELLATION = "cancellation", _("cancellation")
        # The Hub's answer to an SMS keyword or request (answers.py): about
        # no appointment, to the number that wrote.
        ANSWER = "answer", _("answer to an SMS")
        # A one-time code for online booking (booking/codes.py): to the
        # address the patient typed, about no appointment yet.
        CODE = "code", _("one-time code")
        # A freed slot offered to a waiting patient (booking/waitlist.py).
        OFFER = "offer", _("waiting list offer")

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        SMS = "sms", _("SMS")
        VOICE = "voice", _("phone call")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")
        WITHDRAWN = "withdrawn", _("withdrawn")
        # The provider may have it (D15): never sent again automatically.
        UNKNOWN = "unknown", _("outcome unknown")

    # What staff may send again by hand (D15).
    SENDABLE_AGAIN = frozenset({State.FAILED, State.UNKNOWN})
    # Said once, to the one address it answers: never sent again, by hand
    # or to another contact (the patient asks again).
    SAID_ONCE = frozenset({Kind.ANSWER, Kind.CODE, Kind.OFFER})

    clinic_lookup = "clinic"

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    # Nullable so that a deleted appointment keeps its communications log (D7);
    # `appointment_ref` and `snapshot` then still say which one and what it was.
    appointment = models.ForeignKey(
        "schedules.Appointment",
        verbose_name=_("appointment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,  # message_by_appointment leads with it
    )
    # None for an answer, which concerns no appointment.
    appointment_ref = models.UUIDField(_("appointment reference"), db_index=True, null=True, blank=True)
    # Indexed by `message_by_clinic_due`, which also serves the staff's list.
    # None only for an answer to a number no clinic ever wrote to.
    clinic = models.ForeignKey(
        "schedules.Clinic",
        verbose_name=_("clinic"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        null=True,
        blank=True,
    )
    # The recipient: usually the appointment's patient, but the former patient
    # for the cancellation of D13.
    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name=_("patient"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # Resolved at send time from the patient record as it is then (D9).
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, blank=True)
    to = models.CharField(_("to"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=2)
    due_at = models.DateTimeField(_("due"))
    # The appointment start this message was planned for: if the appointment
    # has moved by send time, the message no longer tells the truth (D4).
    planned_start = models.DateTimeField(_("planned for the appointment at"), null=True, blank=True)
    # What the patient is told, frozen when planned; used for a deleted
    # appointment's cancellation notice.
    snapshot = models.JSONField(_("appointment snapshot"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Why it was withdrawn, failed or may not have arrived (events.Reason),
    # and the provider's own words about it, as it wrote them.
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)
    error = models.TextField(_("technical detail"), blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    content = models.TextField(_("content as sent"), blank=True)
    html = models.TextField(_("HTML as sent"), blank=True)
    # After a permanent failure on one contact, the same communication goes
    # once to the next contact method: that second message points back here
    # and skips the contacts that failed.
    fallback_of = models.OneToOneField(
        "self", verbose_name=_("resends"), on_delete=models.SET_NULL, null=True, blank=True, related_name="fallback"
    )
    skip_contacts = models.JSONField(_("contacts not to use"), default=list, blank=True)
    # A failed or outcome-unknown message that staff sent again: the new
    # message points back here, once (one-to-one: a double click cannot
    # make two).
    resend_of = models.OneToOneField(
        "self",
        verbose_name=_("sent again from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resend",
    )
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent again by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # staff accounts are deactivated, never deleted: nothing looks it up
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        db_table = "confirmations_message"  # the table it had before the outbox was its own app
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-due_at", "-id"]
        indexes = [
            # send_due_messages: pending rows whose due_at has come, oldest first.
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="message_pending_by_due"),
            # The lease sweep: rows left in "sending" by a worker that died.
            models.Index(fields=["claimed_at"], condition=Q(state="sending"), name="message_sending_by_claim"),
            # Provider status callbacks find their message by provider id.
            models.Index(fields=["provider_id"], condition=~Q(provider_id=""), name="message_by_provider_id"),
            # An inbound SMS reply finds the most recent SMS sent to its number (D11).
            models.Index(fields=["to", "-sent_at"], condition=Q(channel="sms"), name="message_sms_by_recipient"),
            # An appointment's communications log, newest first.
            models.Index(fields=["appointment", "-due_at"], name="message_by_appointment"),
            # The admin's lists, newest first, of one clinic (staff) or all (support),
            # a page at a time however many messages the Hub keeps.
            models.Index(fields=["clinic", "-due_at", "-id"], name="message_by_clinic_due"),
            models.Index(fields=["-due_at", "-id"], name="message_by_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_state_display()}"

    @property
    def why(self) -> str:
        """Why it was not sent, or may not have arrived, in the reader's language."""
        if self.reason:
            return because(self.reason, self.error)
        return self.error  # a temporary failure's detail while it is retried

    @property
    def readable_to(self) -> str:
        return readable_contact(self.to)

    def again(self, **links) -> "Message":
        """The same communication once more, due now, as a new message; its
        contact and content are resolved when it is sent (D9, D4). `links`
        say why: fallback_of (R19) or resend_of (D15)."""
        return Message.objects.create(
            appointment_id=self.appointment_id,
            appointment_ref=self.appointment_ref,
            clinic_id=self.clinic_id,
            patient_id=self.patient_id,
            kind=self.kind,
            language=self.language,
            due_at=timezone.now(),
            planned_start=self.planned_start,
            snapshot=self.snapshot,
            **links,
        )

    @property
    def can_be_sent_again(self) -> bool:
        """D15: failed or outcome unknown, not sent again yet, nor already
        resent to the next contact (R19: that resend is the one to send
        again if it failed too)."""
        return (
            self.state in self.SENDABLE_AGAIN
            and self.kind not in self.SAID_ONCE  # the patient can ask again
            and not Message.objects.filter(resend_of=self).exists()
            and not Message.objects.filter(fallback_of=self).exists()
        )


class OptOut(models.Model):
    """A mobile number that replied STOP/ARRÊT: no SMS goes to it any more,
    later messages use the patient's next contact method (R19), until it
    replies START."""

    number = models.CharField(_("number"), max_length=20, unique=True)
    at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        db_table = "confirmations_optout"
        verbose_name = _("SMS opt-out")
        verbose_name_plural = _("SMS opt-outs")

    def __str__(self) -> str:
        return self.number


class Reply(models.Model):
    """What a patient answered: an SMS, or a key pressed during a call.

    Recorded by the webhook as it arrives, then understood by the worker
    (confirmations/replies.py). Replies the Hub could not understand stay
    here for staff to read.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        VOICE = "voice", _("phone call")

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("received, not yet read")
        CONFIRMED = "confirmed", _("confirmed the appointment")
        ALREADY = "already", _("confirmation already recorded")
        OPTED_OUT = "opted_out", _("opted out of SMS")
        OPTED_IN = "opted_in", _("opted back in to SMS")
        NOT_UNDERSTOOD = "not_understood", _("not understood")
        NO_APPOINTMENT = "no_appointment", _("no upcoming appointment to confirm")
        HELP = "help", _("asked for help")
        WANTS_TO_CANCEL = "wants_to_cancel", _("wants to cancel")
        OFFER_ACCEPTED = "offer_accepted", _("took a waiting list offer")
        OFFER_GONE = "offer_gone", _("answered an offer no longer open")

    # What staff must read and handle: an SMS the Hub could not act on (a
    # key other than 1 during a call is only the call's own business).
    FOR_STAFF = frozenset({Outcome.NOT_UNDERSTOOD, Outcome.NO_APPOINTMENT, Outcome.WANTS_TO_CANCEL})
    TO_HANDLE = Q(channel="sms", outcome__in=FOR_STAFF, handled_at__isnull=True)

    clinic_lookup = "clinic"

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    number = models.CharField(_("from"), max_length=20)
    body = models.TextField(_("reply"), blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    provider_id = models.CharField(_("provider id"), max_length=64, blank=True)
    # The Hub message this answers, once matched (D11), and its clinic.
    message = models.ForeignKey(
        Message, verbose_name=_("answers"), on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    clinic = models.ForeignKey(
        "schedules.Clinic", verbose_name=_("clinic"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    # The Hub's answer (STOP, START, HELP, a cancellation request): one per reply.
    answer = models.OneToOneField(
        Message, verbose_name=_("answer"), on_delete=models.SET_NULL, null=True, blank=True, related_name="answer_to"
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        db_table = "confirmations_reply"
        verbose_name = _("patient reply")
        verbose_name_plural = _("patient replies")
        ordering = ["-received_at", "-id"]
        constraints = [
            # Twilio may deliver the same inbound SMS twice: record it once.
            models.UniqueConstraint(
                fields=["provider_id"], condition=~models.Q(provider_id=""), name="reply_once_per_provider_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} · {self.get_outcome_display()}"

    @property
    def for_staff(self) -> bool:
        return self.channel == self.Channel.SMS and self.outcome in self.FOR_STAFF

    @property
    def appointment(self):
        return self.message.appointment if self.message is not None else None

    def mark_handled(self, user) -> bool:
        """Staff dealt with it: who and when, and the appointment's history
        says so. Once: a second click, or a colleague's, changes nothing."""
        now = timezone.now()
        with transaction.atomic():
            done = Reply.objects.filter(pk=self.pk, handled_at__isnull=True).update(handled_at=now, handled_by=user)
            if not done:
                return False
            self.handled_at, self.handled_by = now, user
            if self.appointment is not None:
                message_noted.send(
                    sender=Message, message=self.message, said=event("reply_handled"), actor=Actor("staff", user)
                )
        return True
