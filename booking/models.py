"""A patient's online booking, from the form to the appointment (D20)."""

import uuid

from django.db import models
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

    class Meta:
        verbose_name = _("online booking request")
        verbose_name_plural = _("online booking requests")
        indexes = [models.Index(fields=["created_at"], name="booking_request_by_age")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"
