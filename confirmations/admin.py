from django.contrib import admin

from confirmations.models import Message
from schedules.admin_scoping import ClinicScopedAdmin


@admin.register(Message)
class MessageAdmin(ClinicScopedAdmin):
    list_display = ["due_at", "kind", "channel", "to", "state", "sent_at", "attempts", "clinic"]
    list_filter = ["state", "kind", "channel", "clinic"]
    search_fields = ["to", "provider_id"]
    date_hierarchy = "due_at"
    list_select_related = ["clinic"]
    show_full_result_count = False
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
