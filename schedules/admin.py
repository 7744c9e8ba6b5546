from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.utils.translation import gettext_lazy as _

from schedules.admin_scoping import CappedPaginator, ClinicScopedAdmin
from schedules.appointment_admin import AppointmentAdmin  # noqa: F401 -- registers
from schedules.models import Clinic, Professional, Service, StatusChange
from schedules.slot_admin import SlotAdmin  # noqa: F401 -- registers


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
