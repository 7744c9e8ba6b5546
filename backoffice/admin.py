"""The back office's screens, registered where Django's admin looks for
them: here the clinics, professionals, services and status history; the
others in their own modules, imported below."""

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.utils.translation import gettext_lazy as _

from backoffice.admin_forms import ServiceForm, delay_text
from backoffice.admin_scoping import AuditedAdmin, CappedPaginator, ClinicScopedAdmin, readable_phone
from backoffice.appointment_admin import AppointmentAdmin  # noqa: F401 -- registers
from backoffice.booking_admin import WaitlistEntryAdmin  # noqa: F401 -- registers
from backoffice.message_admin import MessageAdmin  # noqa: F401 -- registers
from backoffice.patient_admin import PatientAdmin  # noqa: F401 -- registers
from backoffice.slot_admin import SlotAdmin  # noqa: F401 -- registers
from backoffice.staff_admin import StaffAccountAdmin  # noqa: F401 -- registers
from schedules.models import Clinic, Professional, Service, StatusChange


@admin.register(Clinic)
class ClinicAdmin(AuditedAdmin, ClinicScopedAdmin):
    list_display = ["name", "phone_readable", "email", "timezone", "hub_connected", "online_booking"]
    list_filter = ["hub_connected", "timezone"]
    search_fields = ["name", "email"]
    filter_horizontal = ["staff"]
    phone_readable = readable_phone("phone", _("phone"))


@admin.register(Professional)
class ProfessionalAdmin(AuditedAdmin, ClinicScopedAdmin):
    list_display = ["last_name", "first_name", "kind", "clinic"]
    list_filter = ["kind", "clinic"]
    search_fields = ["last_name", "first_name"]
    list_select_related = ["clinic"]


@admin.register(Service)
class ServiceAdmin(AuditedAdmin, ClinicScopedAdmin):
    form = ServiceForm
    list_display = ["name_fr", "name_en", "category", "online_cancellation", "clinic"]
    list_filter = ["category", "clinic"]
    search_fields = ["name_fr", "name_en"]
    list_select_related = ["clinic"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # Read only (clinic staff): the delay as people say it.
            return [("online_cancellation" if name == "cancellation_delay" else name) for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "online_cancellation"]

    @admin.display(description=_("online cancellation"), ordering="cancellation_delay")
    def online_cancellation(self, service: Service) -> str:
        if service.cancellation_delay is None:
            return _("not offered")
        return _("until %(delay)s before") % {"delay": delay_text(service.cancellation_delay)}


@admin.register(StatusChange)
class StatusChangeAdmin(ClinicScopedAdmin):
    paginator = CappedPaginator
    show_full_result_count = False
    list_display = ["at", "appointment", "status", "actor", "user", "what_happened"]
    # No date hierarchy: it reads every row's date to draw its links.
    list_filter = [("at", DateFieldListFilter), "status", "actor", "clinic"]
    search_fields = ["appointment__patient__last_name"]
    list_select_related = ["appointment__patient", "appointment__professional__clinic", "user", "clinic"]

    @admin.display(description=_("what happened"))
    def what_happened(self, change: StatusChange) -> str:
        return change.text  # in the reader's language

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
