"""Patients of a clinic and the ways the Hub can reach them (R19, R20)."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from schedules.audit import AuditRecords
from schedules.models import keep_clinic


class Patient(models.Model):
    class Language(models.TextChoices):
        FR = "fr", "Français"
        EN = "en", "English"

    clinic_lookup = "clinic"

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(
        "schedules.Clinic", verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="patients"
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.FR)
    # R19: the Hub tries email, other email, mobile, phone, in this order.
    # "Other mobile" and "other phone" are kept for staff but never used.
    email = models.EmailField(_("email"), blank=True)
    other_email = models.EmailField(_("other email"), blank=True)
    mobile = PhoneNumberField(_("mobile"), region="CA", blank=True)
    other_mobile = PhoneNumberField(_("other mobile"), region="CA", blank=True)
    phone = PhoneNumberField(_("phone"), region="CA", blank=True)
    other_phone = PhoneNumberField(_("other phone"), region="CA", blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Who changed which field, from what, to what: who typed the address a
    # patient's health information went to (the audit history).
    audit = AuditRecords()

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["last_name", "first_name"]
        indexes = [
            # The admin's patient list and search within one clinic, by name.
            models.Index(fields=["clinic", "last_name", "first_name"], name="patient_by_name"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        keep_clinic(self)
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
