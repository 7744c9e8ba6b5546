"""A patient's online booking, from the form to the appointment (D20)."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from schedules.models import Appointment, Clinic, Slot


class BookingRequest(models.Model):
    """What a patient asked for on the clinic's booking page, waiting for
    the one-time code sent to the email or mobile given. Only the code's
    hash is kept; the names and contact are erased with the request after
    the retention period."""

    class Contact(models.TextChoices):
        EMAIL = "email", _("email")
        SMS = "sms", _("mobile (SMS)")

    clinic_lookup = "clinic"

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.CASCADE, related_name="+")
    slot = models.ForeignKey(
        Slot, verbose_name=_("slot"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    language = models.CharField(_("language"), max_length=2, choices=[("fr", "Français"), ("en", "English")])
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    contact_channel = models.CharField(_("contact by"), max_length=8, choices=Contact.choices)
    contact = models.CharField(_("email or mobile"), max_length=254)
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("code valid until"))
    wrong_codes = models.PositiveSmallIntegerField(_("wrong codes typed"), default=0)
    verified_at = models.DateTimeField(_("contact verified"), null=True, blank=True)
    appointment = models.OneToOneField(
        Appointment,
        verbose_name=_("appointment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="online_request",
    )
    # A request to join the waiting list instead (when no time suits): the
    # service, maybe a professional, the dates; then the entry it made.
    service = models.ForeignKey(
        "schedules.Service",
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    professional = models.ForeignKey(
        "schedules.Professional",
        verbose_name=_("professional"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    earliest = models.DateField(_("from"), null=True, blank=True)
    latest = models.DateField(_("until"), null=True, blank=True)
    # (Joining again for overlapping dates widens the same entry, D21.)
    entry = models.ForeignKey(
        "booking.WaitlistEntry",
        verbose_name=_("waiting list entry"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="online_requests",
    )

    class Meta:
        verbose_name = _("online booking request")
        verbose_name_plural = _("online booking requests")
        indexes = [models.Index(fields=["created_at"], name="booking_request_by_age")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class WaitlistEntry(models.Model):
    """A patient waiting for a time of a service (and, if they want, of one
    professional) within a date window: a slot freed there is offered."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        BOOKED = "booked", _("booked from an offer")
        REMOVED = "removed", _("removed from the list")

    class AddedBy(models.TextChoices):
        STAFF = "staff", _("staff")
        PATIENT = "patient", _("the patient, on the booking page")

    clinic_lookup = "clinic"

    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("patient"), on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    service = models.ForeignKey(
        "schedules.Service", verbose_name=_("service"), on_delete=models.CASCADE, related_name="+"
    )
    professional = models.ForeignKey(
        "schedules.Professional",
        verbose_name=_("professional"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: any professional."),
    )
    earliest = models.DateField(_("from"))
    latest = models.DateField(_("until"))
    # The language of the booking page the patient joined from (R20): its
    # offers, and the booking made from one, are in it. Empty: the record's.
    language = models.CharField(  # noqa: DJ001
        _("language"), max_length=2, choices=[("fr", "Français"), ("en", "English")], null=True, blank=True
    )
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.WAITING)
    appointment = models.ForeignKey(
        Appointment, verbose_name=_("appointment"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_by = models.CharField(_("added by"), max_length=8, choices=AddedBy.choices, default=AddedBy.STAFF)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    # D21: when the patient (or staff) last asked for this service and these
    # dates. Only a time freed or made after is offered: one free then was
    # on the page, or in the back office, and was not taken.
    waits_since = models.DateTimeField(_("waiting since"), default=timezone.now, editable=False)
    # D21, once the dates were widened: the dates asked for before, and
    # since when. Times freed there since then are still hers to be offered
    # (waits_since, reset when widening, hides only the times free then).
    asked_earliest = models.DateField(_("dates asked before, from"), null=True, blank=True, editable=False)
    asked_latest = models.DateField(_("dates asked before, until"), null=True, blank=True, editable=False)
    asked_since = models.DateTimeField(_("dates asked before, since"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("waiting list entry")
        verbose_name_plural = _("waiting list")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["clinic", "state", "service"], name="waitlist_by_service")]
        constraints = [
            models.CheckConstraint(condition=models.Q(latest__gte=models.F("earliest")), name="waitlist_window_order")
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.service}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        if self.earliest and self.latest and self.latest < self.earliest:
            errors["latest"] = _("The end of the window must not be before its start.")
        clinic_id = self.clinic_id
        for name in ("patient", "service", "professional"):
            related = getattr(self, name, None) if getattr(self, f"{name}_id") else None
            if related is not None and clinic_id and related.clinic_id != clinic_id:
                errors[name] = _("This must belong to the entry's clinic.")
        if errors:
            raise ValidationError(errors)


class Offer(models.Model):
    """A freed slot offered to a waiting patient: the first to accept gets it."""

    class State(models.TextChoices):
        OPEN = "open", _("offered")
        ACCEPTED = "accepted", _("accepted: booked")
        TAKEN = "taken", _("taken by another patient")
        EXPIRED = "expired", _("expired")
        WITHDRAWN = "withdrawn", _("withdrawn: the slot is gone")

    clinic_lookup = "entry__clinic"

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    entry = models.ForeignKey(WaitlistEntry, verbose_name=_("entry"), on_delete=models.CASCADE, related_name="offers")
    slot = models.ForeignKey(
        Slot, verbose_name=_("slot"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    slot_start = models.DateTimeField(_("time offered"))
    message = models.OneToOneField(
        "outbox.Message",
        verbose_name=_("message"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="offer",
    )
    created_at = models.DateTimeField(_("offered at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "expires_at"], name="offer_by_state")]

    def __str__(self) -> str:
        return f"{self.entry} · {self.get_state_display()}"
