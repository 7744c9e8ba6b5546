"""Clinics, their professionals, services, time slots and appointments.

The names follow the clinic's world (SPEC vocabulary): a *slot* is a plage
horaire, a *service* a type de période. Constraints that a database can hold
are declared here (checks, the partial unique index of D2) or installed as
triggers by migration (cross-clinic consistency, see `schedules/triggers.py`);
`clean()` repeats them so that forms show a readable error first.
"""

import uuid
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from history.events import write, write_all
from schedules.actors import STAFF, Actor
from schedules.audit import AuditRecords
from schedules.db import insert
from schedules.signals import appointment_deleting, appointment_saved


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not an IANA time zone name."), params={"value": value})


def keep_clinic(instance: models.Model) -> None:
    """A professional, service or patient never moves to another clinic: the
    rows that depend on them (slots, appointments, messages) would follow
    it into another clinic's view. A new row is created instead."""
    if instance.pk is None:
        return
    stored = type(instance).objects.filter(pk=instance.pk).values_list("clinic_id", flat=True).first()
    if stored is not None and stored != instance.clinic_id:
        raise ValidationError({"clinic": _("This cannot move to another clinic; create it in the other clinic.")})


class Clinic(models.Model):
    # The path from each model to its clinic, for per-clinic visibility (access.py).
    clinic_lookup = "pk"

    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    phone = PhoneNumberField(_("phone"), region="CA")
    email = models.EmailField(_("email"), blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="America/Toronto", validators=[validate_timezone]
    )
    # R1: only a connected clinic has its appointments communicated by the Hub.
    hub_connected = models.BooleanField(_("connected to the Hub"), default=False)
    # D20: the clinic's public booking page, switched on by support.
    online_booking = models.BooleanField(
        _("online booking"),
        default=False,
        help_text=_("Patients book on the clinic's page, for the services open to online booking."),
    )
    booking_address = models.SlugField(
        _("booking page address"),
        max_length=60,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The last part of the booking page's address, e.g. clinique-du-parc."),
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        related_name="clinics",
        blank=True,
        help_text=_("Staff members who see and manage this clinic's schedule."),
    )
    # Who changed which field, from what, to what (the audit history),
    # including who was given or lost access to the clinic.
    audit = AuditRecords(m2m_fields=["staff"])

    class Meta:
        verbose_name = _("clinic")
        verbose_name_plural = _("clinics")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.online_booking and not self.booking_address:
            raise ValidationError({"booking_address": _("Online booking needs the booking page's address.")})
        if self.online_booking and not self.hub_connected:
            raise ValidationError({"online_booking": _("Online booking needs the clinic connected to the Hub.")})

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local(self, instant: datetime) -> datetime:
        """The instant as the clinic's clock shows it."""
        return timezone.localtime(instant, self.zone)


class Professional(models.Model):
    class Kind(models.TextChoices):
        GP = "gp", _("general practitioner")
        NP = "np", _("nurse practitioner (IPS)")
        NURSE = "nurse", _("nurse")
        RESIDENT = "resident", _("resident")
        EXTERN = "extern", _("extern")
        SPECIALIST = "specialist", _("specialist")
        OTHER = "other", _("other")

    # Which kinds the Hub covers (R2) is for the rules to say (confirmations/rules.py).
    clinic_lookup = "clinic"

    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="professionals")
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # Who changed which field, from what, to what (the audit history).
    audit = AuditRecords()

    class Meta:
        verbose_name = _("professional")
        verbose_name_plural = _("professionals")
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        keep_clinic(self)
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Service(models.Model):
    """A type de période: it decides whether and what the Hub announces (R5)."""

    class Category(models.TextChoices):
        NONE = "none", _("no communication")
        IN_PERSON = "in_person", _("in person")
        PHONE = "phone", _("by phone")
        VIRTUAL = "virtual", _("virtual")
        HOME = "home", _("at home")

    clinic_lookup = "clinic"

    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="services")
    name_fr = models.CharField(_("name (French)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    # R8: how long before the start patients may still cancel online.
    # Empty: online cancellation is not offered for this service.
    cancellation_delay = models.DurationField(
        _("online cancellation delay"),
        null=True,
        blank=True,
        help_text=_(
            "Patients may cancel online until this long before the start. Empty: online cancellation is not offered."
        ),
    )

    # D20: patients may book this service on the clinic's page, from
    # `online_booking_notice` before the start to `online_booking_horizon` ahead.
    online_booking = models.BooleanField(_("online booking"), default=False)
    online_booking_notice = models.DurationField(
        _("online booking closes"),
        default=timedelta(hours=2),
        help_text=_("Patients may book online until this long before the start."),
    )
    online_booking_horizon = models.DurationField(
        _("online booking opens"),
        default=timedelta(days=60),
        help_text=_("Patients may book online at most this far ahead."),
    )

    # Who changed which field, from what, to what (the audit history).
    audit = AuditRecords()

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["clinic", "name_fr"]

    def __str__(self) -> str:
        # In the reader's language (the admin's, or the patient's in messages).
        return self.name(translation.get_language() or settings.LANGUAGE_CODE)

    def save(self, *args, **kwargs) -> None:
        keep_clinic(self)
        super().save(*args, **kwargs)

    def name(self, language: str) -> str:
        return self.name_en if language.startswith("en") else self.name_fr

    def clean(self) -> None:
        if self.online_booking_notice is not None and self.online_booking_notice < timedelta(0):
            raise ValidationError({"online_booking_notice": _("This cannot be negative.")})
        if (
            self.online_booking_notice is not None
            and self.online_booking_horizon is not None
            and self.online_booking_horizon <= self.online_booking_notice
        ):
            raise ValidationError({"online_booking_horizon": _("This must be longer than when online booking closes.")})


class SlotQuerySet(models.QuerySet):
    """Whether a slot is free, asked in one place: it holds no active
    appointment (D2), and no active appointment of its professional overlaps
    it (D16: one outside any slot, say, or in a longer slot)."""

    def free(self, ignoring: "Appointment | None" = None) -> "SlotQuerySet":
        """The free slots. `ignoring`: an appointment that no longer counts at
        its times as read (about to be deleted, or cancelled); moved since,
        it counts at its new times."""
        held, overlapping = _keeping_busy(ignoring)
        return self.filter(~Exists(held), ~Exists(overlapping))

    def with_availability(self) -> "SlotQuerySet":
        """Each slot with `held` (an active appointment in it) and
        `overlapped` (one of its professional's overlapping it), in the same
        query, for the lists that say which."""
        held, overlapping = _keeping_busy()
        return self.annotate(held=Exists(held), overlapped=Exists(overlapping))


def _keeping_busy(ignoring: "Appointment | None" = None) -> tuple[models.QuerySet, models.QuerySet]:
    """The active appointment in a slot, and the one of its professional
    overlapping it (subqueries). A professional's active appointments never
    overlap one another (D16, which the database holds), so only the one
    that starts last before the slot ends can reach into it: one step down
    the professional's index, however long their history."""
    active = Appointment.objects.exclude(status=Appointment.Status.CANCELLED)
    if ignoring is not None:
        active = active.exclude(pk=ignoring.pk, start=ignoring.start, end=ignoring.end)
    last_before_the_end = active.filter(
        professional=OuterRef(OuterRef("professional")), start__lt=OuterRef(OuterRef("end"))
    ).order_by("-start")
    overlapping = active.filter(pk=Subquery(last_before_the_end.values("pk")[:1]), end__gt=OuterRef("start"))
    return active.filter(slot=OuterRef("pk")), overlapping


class Slot(models.Model):
    """A plage horaire: the only way an appointment reaches the Hub (R3)."""

    clinic_lookup = "professional__clinic"

    professional = models.ForeignKey(
        Professional, verbose_name=_("professional"), on_delete=models.PROTECT, related_name="slots"
    )
    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="slots")
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    # D21: since when this time has been free as it is (made, changed, or
    # left by its appointment). The waiting list offers it only to entries
    # made before: a time free when the patient joined was on her screen.
    # Empty: free since before the Hub kept this.
    free_since = models.DateTimeField(_("free since"), null=True, blank=True, default=timezone.now, editable=False)

    objects = SlotQuerySet.as_manager()

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["start", "professional"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="slot_ends_after_start"),
            # A professional's day lists their slots by start (also keeps the
            # demo data and slot series idempotent).
            models.UniqueConstraint(fields=["professional", "start"], name="slot_unique_start_per_professional"),
        ]

    def __str__(self) -> str:
        local = self.professional.clinic.local(self.start)
        return f"{date_format(local, 'SHORT_DATETIME_FORMAT')} · {self.professional} · {self.service}"

    def save(self, *args, **kwargs) -> None:
        # D21: another start, service or professional is another time, new
        # to the waiting list; a longer or shorter one is the same time.
        if self.refuse_changes_while_held() & {"professional_id", "service_id", "start"}:
            self.free_since = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "free_since"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": _("The end must be after the start.")})
        if self.service_id and self.professional_id and self.service.clinic_id != self.professional.clinic_id:
            raise ValidationError({"service": _("The service must belong to the professional's clinic.")})
        self.refuse_changes_while_held()

    def refuse_changes_while_held(self) -> set[str]:
        """D14, for edits: a slot that holds an active appointment keeps its
        professional, service and times (its appointment would silently
        drift from it); move or cancel the appointment first. Returns
        which of a free slot's professional, service and times change."""
        if self.pk is None:
            return set()
        stored = Slot.objects.filter(pk=self.pk).values("professional_id", "service_id", "start", "end").first()
        mine = {
            "professional_id": self.professional_id,
            "service_id": self.service_id,
            "start": self.start,
            "end": self.end,
        }
        if stored is None or stored == mine:
            return set()
        held = self.appointments.exclude(status="cancelled")
        if held.exists():
            raise ValidationError(
                _("This slot holds an active appointment; move or cancel it first: %(appointments)s")
                % {"appointments": ", ".join(str(appointment) for appointment in held)}
            )
        return {name for name, value in mine.items() if stored[name] != value}


def keep_slots_with_active_appointments(collector, field, sub_objs, using):
    """on_delete for Appointment.slot (D14).

    Deleting a slot that holds an active appointment is refused, naming the
    appointments to move or cancel first. Cancelled appointments merely lose
    their link to the deleted slot.
    """
    active = [appointment for appointment in sub_objs if appointment.is_active]
    if active:
        raise models.ProtectedError(
            _("This slot holds active appointments; move or cancel them first: %(appointments)s")
            % {"appointments": ", ".join(str(appointment) for appointment in active)},
            set(active),
        )
    models.SET_NULL(collector, field, sub_objs, using)


class AppointmentQuerySet(models.QuerySet):
    """Every change of an appointment may plan or withdraw messages, and the
    planning runs on save() and delete() (confirmations/planning.py). Bulk
    operations would bypass it, so they are refused, and a bulk delete
    deletes one appointment at a time."""

    def update(self, **kwargs):
        raise TypeError(
            "Appointments change one at a time, through save(), so that the Hub plans "
            "their messages; a bulk update would bypass it."
        )

    def bulk_create(self, *args, **kwargs):
        raise TypeError("Create appointments one at a time, through save(), so that the Hub plans their messages.")

    def bulk_update(self, *args, **kwargs):
        raise TypeError("Appointments change one at a time, through save(), so that the Hub plans their messages.")

    def delete(self):
        with transaction.atomic(using=self.db):
            deleted = 0
            for appointment in self.order_by("pk"):
                deleted += appointment.delete()[0]
        return deleted, {self.model._meta.label: deleted}

    delete.alters_data = True
    delete.queryset_only = True


class StaleAppointment(Exception):
    """D17: the appointment changed since this copy of it was read (by a
    patient, another staff member, or the Hub); the change is refused, to be
    made again on what the appointment is now."""


class Appointment(models.Model):
    class Source(models.TextChoices):
        # R4: staff and the clinic's own portals are handled; an external
        # portal (RVSQ) sends its own communications.
        STAFF = "staff", _("booked by staff")
        ONLINE = "online", _("booked online (Sofy)")
        ONLINE_HUB = "online_hub", _("booked online (Sofy RV Hub)")
        # A time offered from an entry staff put on the waiting list (one the
        # patient joined from the booking page is booked online, above).
        WAITLIST = "waitlist", _("from the waiting list, added by staff")
        EXTERNAL = "external", _("external portal (e.g. RVSQ)")

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        SENT_EMAIL = "sent_email", _("Confirmation sent by email")
        SENT_SMS = "sent_sms", _("Confirmation sent by SMS")
        SENT_VOICE = "sent_voice", _("Confirmation sent by phone")
        CONFIRMED_EMAIL = "confirmed_email", _("Confirmed by email")
        CONFIRMED_SMS = "confirmed_sms", _("Confirmed by SMS")
        CONFIRMED_VOICE = "confirmed_voice", _("Confirmed by phone")
        CANCELLED = "cancelled", _("Cancelled")

    CONFIRMED = frozenset({Status.CONFIRMED_EMAIL, Status.CONFIRMED_SMS, Status.CONFIRMED_VOICE})

    class HubReason(models.TextChoices):
        """D1: why the Hub sends nothing for an appointment (empty: it does),
        as the rules decide it (confirmations/rules.py), in words staff read."""

        HANDLED = "", _("handled by the Hub")
        CLINIC_NOT_CONNECTED = "clinic_not_connected", _("the clinic is not connected to the Hub")
        PROFESSIONAL_NOT_COVERED = "professional_not_covered", _("professional type not covered by the Hub")
        OUTSIDE_SLOT = "outside_slot", _("booked outside any time slot")
        EXTERNAL_PORTAL = "external_portal", _("booked through an external portal, which sends its own messages")
        SERVICE_SENDS_NOTHING = "service_sends_nothing", _("the service sends no communication")

    class Language(models.TextChoices):
        FR = "fr", "Français"
        EN = "en", "English"

    clinic_lookup = "professional__clinic"

    # Public, opaque identifier for links and logs (never the primary key).
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("patient"), on_delete=models.PROTECT, related_name="appointments"
    )
    # Defaults to the slot's professional (R7).
    professional = models.ForeignKey(
        Professional,
        verbose_name=_("professional"),
        on_delete=models.PROTECT,
        related_name="appointments",
        blank=True,
    )
    slot = models.ForeignKey(
        Slot,
        verbose_name=_("slot"),
        on_delete=keep_slots_with_active_appointments,
        null=True,
        blank=True,
        related_name="appointments",
        help_text=_("Only appointments booked in a slot are communicated by the Hub."),
    )
    # R7: defaults to the slot's service; a service chosen at booking wins.
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="appointments", blank=True
    )
    start = models.DateTimeField(_("start"), blank=True)
    end = models.DateTimeField(_("end"), blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.STAFF)
    # R20: the language the patient chose when booking online; null (not
    # an empty string) when the booking did not choose one.
    booking_language = models.CharField(  # noqa: DJ001
        _("booking language"), max_length=2, choices=Language.choices, null=True, blank=True
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.BOOKED)
    # R29: when and where the latest communication went (an event, written
    # out in the reader's language: `latest_communication`).
    communication = models.JSONField(_("latest communication"), default=dict, blank=True, editable=False)
    # D1: set on every save; empty when the Hub handles the appointment.
    hub_reason = models.CharField(
        _("why the Hub sends nothing"), max_length=32, choices=HubReason.choices, blank=True, editable=False
    )
    notes = models.TextField(_("internal notes"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # D17: bumped by every save, which applies only to the version it read.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="appointment_ends_after_start"),
            # D2: a slot holds at most one active appointment. A unique index
            # makes the second of two concurrent bookings fail in the database.
            models.UniqueConstraint(
                fields=["slot"],
                condition=~Q(status="cancelled"),
                name="one_active_appointment_per_slot",
                violation_error_message=_("This slot already holds an active appointment."),
            ),
        ]
        indexes = [
            # The day's appointments (staff start page, date filters) and the
            # dispatcher's "appointment already past" re-check.
            models.Index(fields=["start"], name="appointment_by_start"),
            # A patient's appointments, most recent first (patient page, and
            # the inbound SMS reply that confirms the upcoming one).
            models.Index(fields=["patient", "start"], name="appointment_by_patient"),
            # A professional's day in the admin list filtered by professional.
            models.Index(fields=["professional", "start"], name="appointment_by_professional"),
        ]

    def __str__(self) -> str:
        when = self.clinic.local(self.start) if self.start else None
        if when is None:
            return str(self.patient)
        return f"{date_format(when, 'SHORT_DATETIME_FORMAT')} · {self.patient} · {self.professional}"

    def save(self, *args, actor: Actor = STAFF, said: dict | None = None, **kwargs) -> None:
        """Saves the change and writes its line in the history (R29): who made
        it (`actor`: staff by default, as from a shell), what they did when
        the change says it (`said`: "cancelled with the email's link"), and
        what the change set in motion (the receivers of `appointment_saved`:
        the messages planned or withdrawn)."""
        if kwargs.get("update_fields") is None:
            self.fill_from_slot()  # a save of some fields (a status, a note) leaves the slot and times alone
        else:
            kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        self._read_version = self.version
        adding = self._state.adding
        if not adding:
            self.version += 1
        try:
            # The messages planned by this change are written in its transaction.
            with transaction.atomic(using=kwargs.get("using")):
                self._take_turns(kwargs.get("update_fields"))
                super().save(*args, **kwargs)
                told = [events for _, events in appointment_saved.send(Appointment, appointment=self, created=adding)]
                if said or any(events is not None for events in told):
                    events = [said] if said else []
                    self.write_in_history([*events, *(e for each in told for e in each or [])], actor=actor)
        except BaseException:
            self.version = self._read_version
            raise
        self._stored_slot_id = self.slot_id

    def write_in_history(self, events: list, *, actor: Actor, status: str | None = None) -> None:
        """A line in this appointment's history (R29)."""
        StatusChange.write_down(
            self.public_id,
            self.professional.clinic_id,
            status or self.status,
            events,
            actor=actor,
            appointment_id=self.pk,
        )

    @classmethod
    def note_communication(cls, pk: int, patient_id: int, note: dict, sent_status: str | None) -> str | None:
        """R29, for the dispatcher, in one UPDATE: the status note says when
        and where the latest message went, and a booked appointment's status
        becomes `sent_status` ("Confirmation sent by …"; None leaves it).
        Only while the appointment is the patient's the message went to. No
        planning: nothing the patient is told changes. The version moves on
        (D17). Returns the status after, or None when the appointment is gone
        or now someone else's."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {cls._meta.db_table} SET status = CASE WHEN status = %s THEN %s ELSE status END, "
                "communication = %s, version = version + 1, updated_at = %s WHERE id = %s AND patient_id = %s "
                "RETURNING status",
                [
                    cls.Status.BOOKED,
                    sent_status or cls.Status.BOOKED,
                    cls._meta.get_field("communication").get_db_prep_value(note, connection),
                    timezone.now(),
                    pk,
                    patient_id,
                ],
            )
            row = cursor.fetchone()
        return row[0] if row else None

    def _take_turns(self, update_fields) -> None:
        """D16 under concurrency: changes that may make a professional's
        appointments overlap take turns on the professional's row. PostgreSQL
        checks its exclusion constraint against rows not yet committed, and
        two overlapping bookings checked at once deadlock (an error, not a
        clean refusal); in turn, the second sees the first and is refused.

        The same read brings what the planning needs: the professional and
        the clinic, and, for a booking in its slot, the slot and its service
        (one query: the slot's row, its professional's row locked)."""
        if not self.professional_id:
            return
        if update_fields is not None and not {"start", "end", "professional", "slot"} & set(update_fields):
            return  # a status or a note: the times do not move, nothing is planned
        lock = connection.vendor == "postgresql" and self.is_active  # a cancelled appointment overlaps nothing
        if lock and self.pk is not None:
            # Always the appointment first, then its professional: the order
            # every other change of it takes (patient pages, dispatcher).
            list(Appointment.objects.select_for_update().filter(pk=self.pk).values_list("pk"))
        cached = Appointment.professional.is_cached(self) and Professional.clinic.is_cached(self.professional)
        if not lock and cached:
            return
        if self.slot_id and not Appointment.service.is_cached(self):
            slots = Slot.objects.select_related("professional__clinic", "service")
            if lock:
                slots = slots.select_for_update(of=("professional",))
            slot = slots.filter(pk=self.slot_id, professional_id=self.professional_id).first()
            if slot is not None:
                self.slot, self.professional = slot, slot.professional
                if slot.service_id == self.service_id:
                    self.service = slot.service
                return
        rows = Professional.objects.select_related("clinic")
        if lock:
            rows = rows.select_for_update(of=("self",))
        self.professional = rows.get(pk=self.professional_id)

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        """D17, optimistic concurrency: the UPDATE applies only to the version
        this instance was read at; otherwise someone changed the appointment
        meanwhile (a patient who cancelled, another staff member, the Hub),
        and writing this copy would undo their change."""
        # Rows restored by loaddata come through save_base, not save().
        read = getattr(self, "_read_version", self.version)
        updated = super()._do_update(base_qs.filter(version=read), using, pk_val, values, update_fields, forced_update)
        if not updated and base_qs.filter(pk=pk_val).exists():
            raise StaleAppointment(f"appointment {self.public_id} changed since it was read (version {read})")
        return updated

    def delete(self, *args, actor: Actor = STAFF, **kwargs):
        """Deletes it; its history and messages are kept (D7), and the
        history's last line says who deleted it and what that set in motion."""
        with transaction.atomic(using=kwargs.get("using")):
            told = [events for _, events in appointment_deleting.send(Appointment, appointment=self)]
            if any(events is not None for events in told):
                stored = Appointment.objects.filter(pk=self.pk).values_list("status", flat=True).first()
                events = [e for each in told for e in each or []]
                StatusChange.write_down(
                    self.public_id, self.professional.clinic_id, stored or self.status, events, actor=actor
                )
            return super().delete(*args, **kwargs)

    @property
    def clinic(self) -> Clinic:
        return self.professional.clinic

    @property
    def latest_communication(self) -> str:
        """R29: when and where the latest communication went, for staff."""
        if not self.communication:
            return ""
        return write(self.communication, self.clinic.timezone)

    @property
    def is_active(self) -> bool:
        return self.status != self.Status.CANCELLED

    @property
    def language(self) -> str:
        """R20: the language chosen when booking online, else the patient's."""
        online = self.source in (self.Source.ONLINE, self.Source.ONLINE_HUB)
        return self.booking_language if online and self.booking_language else self.patient.language

    @property
    def is_confirmed(self) -> bool:
        return self.status in self.CONFIRMED

    def copy_to(self, slot: Slot, *, actor: Actor = STAFF) -> "Appointment":
        """R17 copy/paste: a new appointment for the same patient in `slot`,
        keeping this appointment's service (not the new slot's)."""
        copy = Appointment(patient=self.patient, slot=slot, service=self.service)
        copy.save(actor=actor)
        return copy

    def move_to(self, slot: Slot, *, actor: Actor = STAFF) -> None:
        """R17 cut/paste: the appointment takes the slot's professional and
        times, and keeps its service. A modification for the patient (D5)."""
        self.slot = slot
        self.save(actor=actor)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_slot_id = instance.__dict__.get("slot_id")
        return instance

    def fill_from_slot(self) -> None:
        """R7: whatever the booking left empty comes from the slot. An
        appointment put in another slot takes that slot's professional and
        times, and keeps its service (R17: a move keeps the service)."""
        if self.slot_id is None:
            return
        slot = self.slot
        moved = not self._state.adding and self.slot_id != getattr(self, "_stored_slot_id", self.slot_id)
        # The slot's professional and service, without reading them when the
        # slot does not hold them already (save() reads what planning needs).
        if moved or not self.professional_id:
            _copy_relation(slot, self, "professional")
        if not self.service_id:
            _copy_relation(slot, self, "service")
        if moved or self.start is None:
            self.start = slot.start
        if moved or self.end is None:
            self.end = slot.end
        if self.start < slot.start or self.end > slot.end:
            # D16: an appointment stays within its slot. Times edited past it
            # take it out of the slot (D12: it leaves the Hub, the slot is
            # free again), never a silent mismatch that would let the slot
            # be booked a second time.
            self.slot = None

    def clean(self) -> None:
        self.fill_from_slot()
        errors = {}
        if not self.professional_id:
            errors["professional"] = _("Choose a slot, or a professional for an appointment outside any slot.")
        for name, value in (("start", self.start), ("end", self.end), ("service", self.service_id)):
            if not value:
                errors[name] = _("Choose a slot, or fill this in.")
        if errors:
            raise ValidationError(errors)
        if self.start and self.end and self.end <= self.start:
            errors["end"] = _("The end must be after the start.")
        if self.professional_id:
            clinic_id = self.professional.clinic_id
            if self.patient_id and self.patient.clinic_id != clinic_id:
                errors["patient"] = _("The patient must belong to the professional's clinic.")
            if self.service_id and self.service.clinic_id != clinic_id:
                errors["service"] = _("The service must belong to the professional's clinic.")
            if self.slot_id and self.slot.professional.clinic_id != clinic_id:
                errors["slot"] = _("The slot must belong to the professional's clinic.")
        if errors:
            raise ValidationError(errors)
        overlapping = self.overlapping().first()
        if overlapping is not None:
            # D16; the database refuses it too (a race between two forms).
            raise ValidationError(
                _("%(professional)s already has an appointment at that time: %(appointment)s")
                % {"professional": self.professional, "appointment": overlapping}
            )

    def overlapping(self) -> "AppointmentQuerySet":
        """D16: the professional's other active appointments that overlap this one."""
        if not self.is_active or not (self.professional_id and self.start and self.end):
            return Appointment.objects.none()
        return (
            Appointment.objects.filter(professional_id=self.professional_id, start__lt=self.end, end__gt=self.start)
            .exclude(status=self.Status.CANCELLED)
            .exclude(pk=self.pk)
            .select_related("patient", "professional__clinic")
        )


def _copy_relation(source: models.Model, target: models.Model, name: str) -> None:
    """target.<name> = source.<name>: the object if source holds it, else its id."""
    field = type(source)._meta.get_field(name)
    if field.is_cached(source):
        setattr(target, name, getattr(source, name))
    else:
        setattr(target, field.attname, getattr(source, field.attname))


class StatusChange(models.Model):
    """One line of an appointment's status history (R29).

    Kept when the appointment is deleted (D7): the row then keeps the
    appointment's public id and its clinic, for staff to find it.
    """

    class Actor(models.TextChoices):
        STAFF = "staff", _("staff")
        PATIENT = "patient", _("patient")
        HUB = "hub", _("the Hub")

    clinic_lookup = "clinic"

    appointment = models.ForeignKey(
        Appointment,
        verbose_name=_("appointment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="history",
    )
    appointment_ref = models.UUIDField(_("appointment reference"), db_index=True)
    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Appointment.Status.choices)
    # What happened, as events (history/events.py): `text` writes them
    # out in the reader's language.
    events = models.JSONField(_("what happened"), default=list, blank=True)
    actor = models.CharField(_("by"), max_length=8, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status history")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{date_format(timezone.localtime(self.at), 'SHORT_DATETIME_FORMAT')} · {self.get_status_display()}"

    @property
    def text(self) -> str:
        return write_all(self.events, self.clinic.timezone)

    @classmethod
    def write_down(cls, appointment_ref, clinic_id: int, status: str, events: list, *, actor, appointment_id=None):
        """Adds a line to an appointment's history: the one place one is
        written. `appointment_id` is None once it is deleted; the reference
        and clinic remain (D7). `actor`: who did it (schedules/actors.py).

        One plain INSERT: every booking and every message sent writes one."""
        insert(
            [
                cls(
                    appointment_id=appointment_id,
                    appointment_ref=appointment_ref,
                    clinic_id=clinic_id,
                    status=status,
                    events=events,
                    actor=actor.kind,
                    user_id=actor.user.pk if actor.user is not None else None,
                )
            ]
        )

    @property
    def actor_label(self) -> str:
        if self.actor == self.Actor.STAFF and self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        return self.get_actor_display()


def _audit_staff_accounts() -> None:
    """Staff accounts have an audit history too: who changed a name, an
    email, an account's role (its clinics are in each clinic's history).
    Never the password (not even its hash), nor each login."""
    from django.contrib.auth import get_user_model
    from simple_history import register

    register(
        get_user_model(),
        app="schedules",
        manager_name="audit",
        excluded_fields=["password", "last_login"],
        m2m_fields=["groups"],  # the role: clinic staff or support
        records_class=AuditRecords,
    )


_audit_staff_accounts()
