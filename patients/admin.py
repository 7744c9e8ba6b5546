from django.contrib import admin

from patients.models import Patient
from schedules.admin_scoping import ClinicScopedAdmin


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin):
    list_display = ["last_name", "first_name", "language", "email", "mobile", "phone", "clinic"]
    list_filter = ["language", "clinic"]
    search_fields = ["last_name", "first_name", "email", "other_email"]
    list_select_related = ["clinic"]
