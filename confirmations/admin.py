from django.contrib import admin

from confirmations.models import Message, OptOut, Reply
from schedules.access import is_support
from schedules.admin_scoping import CappedPaginator, ClinicScopedAdmin


class ReadOnlyAdmin(ClinicScopedAdmin):
    """The Hub writes these rows; staff read them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["due_at", "kind", "channel", "to", "state", "sent_at", "attempts", "error", "clinic"]
    list_filter = ["state", "kind", "channel", "clinic"]
    search_fields = ["to", "provider_id"]
    date_hierarchy = "due_at"
    list_select_related = ["clinic"]
    paginator = CappedPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in Message._meta.fields]


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "channel", "number", "body", "outcome", "message", "clinic"]
    list_filter = ["outcome", "channel", "clinic"]
    search_fields = ["number", "body"]
    date_hierarchy = "received_at"
    list_select_related = ["clinic", "message"]
    paginator = CappedPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in Reply._meta.fields]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    """Numbers are not tied to one clinic: support only."""

    list_display = ["number", "at"]
    search_fields = ["number"]

    def has_module_permission(self, request) -> bool:
        return is_support(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_support(request.user)
