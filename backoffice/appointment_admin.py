"""Appointments in the back office: booking in a slot (R7), warnings before
a change the patient will not hear of (D6, D12, D13), the status history and
communications, and the cancel, copy and move actions (R17, R18)."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backoffice.admin_filters import ForwardDateFilter
from backoffice.admin_forms import STALE_FORM, AppointmentForm
from backoffice.admin_scoping import CappedPaginator, ClinicScopedAdmin, ReadOnlyInline
from backoffice.agenda import agenda_url, free_slots
from outbox.contacts import contact_for
from outbox.models import Message, Reply
from patients.models import Patient
from schedules.access import visible_to
from schedules.actors import Actor
from schedules.models import Appointment, Professional, Slot, StaleAppointment, StatusChange
from schedules.row_ids import row_id

TAKEN_MEANWHILE = _(
    "Not saved: this slot, or the professional at that time, was booked meanwhile. Choose another slot or time."
)


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = ["at", "status", "what_happened", "actor", "user"]
    readonly_fields = fields
    verbose_name_plural = _("status history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("clinic", "user")

    @admin.display(description=_("what happened"))
    def what_happened(self, change: StatusChange) -> str:
        return change.text  # in the reader's language


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["kind", "channel_now", "recipient", "due_at", "state", "sent_at", "why"]
    readonly_fields = fields
    verbose_name_plural = _("communications")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("patient")

    @admin.display(description=_("to"))
    def recipient(self, message: Message) -> str:
        return message.readable_to

    @admin.display(description=_("reason"))
    def why(self, message: Message) -> str:
        return message.why

    @admin.display(description=_("channel"))
    def channel_now(self, message: Message) -> str:
        """A message not sent yet has no channel: the one it would use now (D9)."""
        if message.channel:
            return message.get_channel_display()
        if message.state != Message.State.PENDING or message.patient is None:
            return "—"
        contact = contact_for(message.patient, skip=message.skip_contacts)
        if contact is None:
            return _("none usable")
        return _("%(channel)s, if sent now") % {"channel": Message.Channel(contact.channel).label}


@dataclass
class StoryLine:
    at: datetime  # in the clinic's zone
    who: str
    status: str
    text: str

    @property
    def when(self) -> str:
        return date_format(self.at, "SHORT_DATETIME_FORMAT")  # the clinic's clock, not the reader's zone


def story_of(appointment: Appointment) -> list[StoryLine]:
    """An appointment's whole story, oldest first: its status history
    (booked, moved from when to when, each message, confirmed, cancelled,
    R29), and the admin's own record of edits that change nothing the
    patient hears of (its notes, say), in the reader's language."""
    zone = appointment.clinic.zone
    lines = [
        StoryLine(timezone.localtime(change.at, zone), change.actor_label, change.get_status_display(), change.text)
        for change in appointment.history.select_related("clinic", "user")
    ]
    edits = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Appointment), object_id=str(appointment.pk), action_flag=CHANGE
    ).select_related("user")
    lines += [
        StoryLine(
            timezone.localtime(edit.action_time, zone),
            edit.user.get_full_name() or edit.user.get_username(),
            "",
            edit.get_change_message(),
        )
        for edit in edits
    ]
    return sorted(lines, key=lambda line: line.at)


SEARCH_IDS = 500


def staff(request) -> Actor:
    """The staff member making a change from the back office."""
    return Actor("staff", request.user)


def few(rows):
    """The ids of `rows` as a list when there are few (the database then
    reads their appointments by index), else as a subquery."""
    ids = list(rows.order_by().values_list("pk", flat=True)[: SEARCH_IDS + 1])
    return ids if len(ids) <= SEARCH_IDS else rows.values("pk")


@admin.register(Appointment)
class AppointmentAdmin(ClinicScopedAdmin):
    form = AppointmentForm
    list_display = ["start", "patient", "professional", "service", "status", "latest_communication"]
    # From today on by default; no date hierarchy (it reads every row's date).
    list_filter = [ForwardDateFilter, "professional", "status", "source", "professional__clinic"]
    search_fields = ["patient__last_name", "patient__first_name", "professional__last_name"]
    list_select_related = ["patient", "professional__clinic", "service"]
    autocomplete_fields = ["patient", "professional", "slot", "service"]
    readonly_fields = [
        "status",
        "latest_communication",
        "hub_reason_display",
        "public_id",
        "created_at",
        "updated_at",
    ]
    inlines = [StatusChangeInline, MessageInline]
    actions = ["cancel_appointments"]
    paginator = CappedPaginator
    show_full_result_count = False
    change_form_template = "admin/schedules/appointment/change_form.html"
    object_history_template = "admin/schedules/appointment/object_history.html"

    # The history names the staff member who made each change (R29).

    def save_model(self, request, obj: Appointment, form, change: bool) -> None:
        obj.save(actor=staff(request))

    def delete_model(self, request, obj: Appointment) -> None:
        obj.delete(actor=staff(request))

    def delete_queryset(self, request, queryset) -> None:
        for appointment in queryset:
            appointment.delete(actor=staff(request))

    def get_search_results(self, request, queryset, search_term):
        """Each word names the patient (last or first name) or the
        professional (last name), as Django's own search would; but the few
        matching patients and professionals are found first (small tables,
        trigram indexes on PostgreSQL), then their appointments by index,
        instead of testing every appointment's joined names."""
        words = [  # as Django's own search reads them: "Da Silva" is one word
            unescape_string_literal(word) if word[:1] in "\"'" and len(word) > 1 and word[0] == word[-1] else word
            for word in smart_split(search_term)
        ]
        if not words:
            return queryset, False
        for word in words:
            patients = few(Patient.objects.filter(Q(last_name__icontains=word) | Q(first_name__icontains=word)))
            professionals = few(Professional.objects.filter(last_name__icontains=word))
            queryset = queryset.filter(Q(patient_id__in=patients) | Q(professional_id__in=professionals))
        return queryset, False

    @admin.display(description=_("latest communication"))
    def latest_communication(self, appointment: Appointment) -> str:
        return appointment.latest_communication or "—"  # R29, in the reader's language

    @admin.display(description=_("communications by the Hub"))
    def hub_reason_display(self, appointment: Appointment) -> str:
        # D1: staff can see why the Hub sends nothing.
        if appointment.pk is None:
            return "—"
        return appointment.get_hub_reason_display()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        appointment = self.get_object(request, object_id) if row_id(object_id) else None
        extra = {}
        if appointment is not None:
            # The clinic's own day (not the reader's zone), the slot outlined.
            day = appointment.clinic.local(appointment.start).date()
            link = agenda_url(clinic=appointment.clinic.pk, day=day)
            extra["agenda_link"] = link + (f"#slot-{appointment.slot_id}" if appointment.slot_id else "")
            # What the patient answered to its messages, those to handle first.
            extra["replies"] = (
                Reply.objects.filter(message__appointment=appointment)
                .select_related("handled_by")
                .order_by("-received_at", "-id")
            )
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def history_view(self, request, object_id, extra_context=None):
        """The History button: the appointment's whole story (story_of)."""
        appointment = self.get_object(request, object_id) if row_id(object_id) else None
        story = story_of(appointment) if appointment is not None else []
        return super().history_view(request, object_id, {**(extra_context or {}), "story": story})

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # Warnings concern changes of a saved appointment only.
        return fields if obj is not None else [name for name in fields if name != "acknowledge"]

    def get_changeform_initial_data(self, request):
        """R7: booking from a slot pre-fills professional, times and service."""
        initial = super().get_changeform_initial_data(request)
        # Ids from the URL pre-fill the form only when they can be ids.
        for name in ("slot", "patient", "professional", "service"):
            if name in initial and row_id(initial[name]) is None:
                del initial[name]
        slot_id = row_id(request.GET.get("slot"))
        slot = visible_to(Slot.objects.all(), request.user).filter(pk=slot_id).first() if slot_id else None
        if slot is not None:
            initial.update(
                slot=slot.pk, professional=slot.professional_id, service=slot.service_id, start=slot.start, end=slot.end
            )
        return initial

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """D17: a save that lost a race with another change (between the
        form's check and the UPDATE) is refused; nothing was written."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaleAppointment:
            self.message_user(request, STALE_FORM, messages.ERROR)
            return redirect(request.get_full_path())
        except IntegrityError:
            # Lost a race the form's own checks could not see: another
            # booking of the slot or of the professional at that time (D2, D16).
            self.message_user(request, TAKEN_MEANWHILE, messages.ERROR)
            return redirect(request.get_full_path())

    @admin.action(description=_("Cancel the selected appointments (the patients are told)"), permissions=["change"])
    def cancel_appointments(self, request, queryset):
        cancelled = changed = 0
        for appointment in queryset.exclude(status=Appointment.Status.CANCELLED):
            appointment.status = Appointment.Status.CANCELLED
            try:
                appointment.save(actor=staff(request))  # R18: plans each cancellation notice
            except StaleAppointment:
                changed += 1  # changed since the list was read (D17): theirs stands
                continue
            cancelled += 1
        self.message_user(
            request, ngettext("%d appointment cancelled.", "%d appointments cancelled.", cancelled) % cancelled
        )
        if changed:
            warning = ngettext(
                "%d appointment changed meanwhile and was not cancelled: reload the list to see it.",
                "%d appointments changed meanwhile and were not cancelled: reload the list to see them.",
                changed,
            )
            self.message_user(request, warning % changed, messages.WARNING)

    def get_urls(self):
        own = [
            path("<int:pk>/cancel/", self.admin_site.admin_view(self.cancel_view), name="schedules_appointment_cancel"),
            path("<int:pk>/copy/", self.admin_site.admin_view(self.copy_view), name="schedules_appointment_copy"),
            path("<int:pk>/move/", self.admin_site.admin_view(self.move_view), name="schedules_appointment_move"),
        ]
        return own + super().get_urls()

    def cancel_view(self, request, pk: int):
        """R18 from the appointment's page: a confirmation step (GET), then
        the cancellation (POST) of the version that page showed (D17)."""
        appointment = get_object_or_404(
            self.get_queryset(request).select_related("patient", "professional__clinic", "service"), pk=pk
        )
        back = reverse("admin:schedules_appointment_change", args=[pk])
        if not self.has_change_permission(request, appointment) or not appointment.is_active:
            return redirect(back)
        if request.method == "POST":
            if str(appointment.version) != request.POST.get("version"):
                self.message_user(request, STALE_FORM, messages.ERROR)
                return redirect(back)
            appointment.status = Appointment.Status.CANCELLED
            try:
                appointment.save(actor=staff(request))  # R18: plans the cancellation notice
            except StaleAppointment:
                self.message_user(request, STALE_FORM, messages.ERROR)
                return redirect(back)
            told = Message.objects.filter(
                appointment_ref=appointment.public_id, kind=Message.Kind.CANCELLATION, state=Message.State.PENDING
            ).exists()
            done = _("Cancelled; the patient receives a cancellation notice.") if told else _("Cancelled.")
            self.message_user(request, done, messages.SUCCESS)
            return redirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Cancel this appointment?"),
            "subject": appointment,
            "opts": self.model._meta,
            "back": back,
            # R13: a past appointment's cancellation is not sent either.
            "told": not appointment.hub_reason and appointment.start > timezone.now(),
        }
        return TemplateResponse(request, "admin/schedules/appointment/cancel.html", context)

    def copy_view(self, request, pk: int):
        return self._to_slot(request, pk, copy=True)

    def move_view(self, request, pk: int):
        return self._to_slot(request, pk, copy=False)

    def _to_slot(self, request, pk: int, copy: bool):
        """R17: copy keeps the original service in a new appointment; a move
        keeps the service too. Both go through the rules like any change.
        The target slot is picked in the agenda (GET opens it in that mode),
        which posts it here."""
        appointment = get_object_or_404(self.get_queryset(request).select_related("professional__clinic"), pk=pk)
        allowed = self.has_add_permission(request) if copy else self.has_change_permission(request, appointment)
        if not allowed or not (copy or appointment.is_active):
            refusal = _("You may not book appointments.") if copy else _("Only an active appointment can be moved.")
            self.message_user(request, refusal, messages.WARNING)
            return redirect("admin:schedules_appointment_change", pk)
        if request.method != "POST":
            day = appointment.clinic.local(appointment.start).date()
            mode = "copy" if copy else "move"
            return redirect(agenda_url(clinic=appointment.clinic.pk, day=day, **{mode: appointment.pk}))
        slot_id = row_id(request.POST.get("slot"))
        slot = free_slots(request.user, appointment.clinic.pk).filter(pk=slot_id).first() if slot_id else None
        if slot is None:
            self.message_user(request, _("That slot is no longer free: choose another one."), messages.ERROR)
            return redirect(request.path)
        if slot.service_id != appointment.service_id and not request.POST.get("acknowledge"):
            return self._other_service(request, appointment, slot, copy)
        try:
            return self._to_slot_done(request, appointment, slot, copy)
        except StaleAppointment:
            self.message_user(request, STALE_FORM, messages.ERROR)
            return redirect("admin:schedules_appointment_change", pk)
        except IntegrityError:
            self.message_user(request, TAKEN_MEANWHILE, messages.ERROR)
            return redirect(request.path)

    def _other_service(self, request, appointment: Appointment, slot: Slot, copy: bool):
        """R16, before a move or copy into a slot of another service: the
        appointment keeps its own service, and a change of service would not
        be told to the patient. Staff go on, or choose another slot."""
        day = appointment.clinic.local(slot.start).date()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Copy into a slot of another service?") if copy else _("Move into a slot of another service?"),
            "subject": appointment,
            "slot": slot,
            "copy": copy,
            "opts": self.model._meta,
            "back": agenda_url(clinic=appointment.clinic.pk, day=day, **{"copy" if copy else "move": appointment.pk}),
        }
        return TemplateResponse(request, "admin/schedules/appointment/other_service.html", context)

    def _to_slot_done(self, request, appointment: Appointment, slot: Slot, copy: bool):
        if copy:
            target, kind = appointment.copy_to(slot, actor=staff(request)), Message.Kind.CONFIRMATION
        else:
            appointment.move_to(slot, actor=staff(request))
            target, kind = appointment, Message.Kind.MODIFICATION
        # What the patient is told, from what the change planned (the service may send nothing).
        told = Message.objects.filter(appointment=target, kind=kind, state=Message.State.PENDING).exists()
        if copy:
            done = _("Copied; the patient receives a confirmation.") if told else _("Copied.")
        else:
            done = _("Moved; the patient receives a modification notice.") if told else _("Moved.")
        self.message_user(request, done, messages.SUCCESS)
        return redirect("admin:schedules_appointment_change", target.pk)
