from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from confirmations.models import Message
from schedules.admin_scoping import ClinicScopedAdmin, ReadOnlyInline
from schedules.models import Appointment, Clinic, Professional, Service, Slot, StatusChange


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    list_display = ["name", "phone", "email", "timezone", "hub_connected"]
    list_filter = ["hub_connected", "timezone"]
    search_fields = ["name", "email"]
    filter_horizontal = ["staff"]


@admin.register(Professional)
class ProfessionalAdmin(ClinicScopedAdmin):
    list_display = ["last_name", "first_name", "kind", "clinic"]
    list_filter = ["kind", "clinic"]
    search_fields = ["last_name", "first_name"]
    list_select_related = ["clinic"]


@admin.register(Service)
class ServiceAdmin(ClinicScopedAdmin):
    list_display = ["name_fr", "name_en", "category", "cancellation_delay", "clinic"]
    list_filter = ["category", "clinic"]
    search_fields = ["name_fr", "name_en"]
    list_select_related = ["clinic"]


@admin.register(Slot)
class SlotAdmin(ClinicScopedAdmin):
    list_display = ["start", "end", "professional", "service"]
    list_filter = ["professional__clinic", "professional", "service__category"]
    search_fields = ["professional__last_name", "service__name_fr", "service__name_en"]
    date_hierarchy = "start"
    list_select_related = ["professional__clinic", "service"]
    autocomplete_fields = ["professional", "service"]


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = ["at", "status", "note", "actor", "user"]
    readonly_fields = fields
    verbose_name_plural = _("status history")


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["kind", "channel", "to", "due_at", "state", "sent_at", "error"]
    readonly_fields = fields
    verbose_name_plural = _("communications")


@admin.register(Appointment)
class AppointmentAdmin(ClinicScopedAdmin):
    list_display = ["start", "patient", "professional", "service", "status", "status_note"]
    list_filter = ["status", "source", "professional__clinic", "professional"]
    search_fields = ["patient__last_name", "patient__first_name", "professional__last_name"]
    date_hierarchy = "start"
    list_select_related = ["patient", "professional__clinic", "service"]
    autocomplete_fields = ["patient", "professional", "slot", "service"]
    readonly_fields = ["status", "status_note", "hub_reason_display", "public_id", "created_at", "updated_at"]
    inlines = [StatusChangeInline, MessageInline]
    show_full_result_count = False

    @admin.display(description=_("communications by the Hub"))
    def hub_reason_display(self, appointment: Appointment) -> str:
        # D1: staff can see why the Hub sends nothing.
        if appointment.pk is None:
            return "—"
        return appointment.get_hub_reason_display()


@admin.register(StatusChange)
class StatusChangeAdmin(ClinicScopedAdmin):
    list_display = ["at", "appointment", "status", "actor", "user", "note"]
    list_filter = ["status", "actor", "clinic"]
    search_fields = ["note", "appointment__patient__last_name"]
    date_hierarchy = "at"
    list_select_related = ["appointment__patient", "appointment__professional__clinic", "user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
