from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from backoffice.admin_scoping import AuditedAdmin, ClinicScopedAdmin, readable_phone
from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(AuditedAdmin, ClinicScopedAdmin):
    list_display = ["last_name", "first_name", "language", "email", "mobile_readable", "phone_readable", "clinic"]
    list_filter = ["language", "clinic"]
    search_fields = ["last_name", "first_name", "email", "other_email"]
    list_select_related = ["clinic"]

    mobile_readable = readable_phone("mobile", _("mobile"))
    phone_readable = readable_phone("phone", _("phone"))
