"""The admin's per-clinic scoping: lists, forms and choices (access.py)."""

from django.contrib import admin

from schedules.access import visible_to


class ClinicScopedAdmin(admin.ModelAdmin):
    """Shows clinic staff only their clinics' rows, and only their clinics'
    rows as choices in every foreign key of its forms."""

    def get_queryset(self, request):
        return visible_to(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "clinic_lookup") and "queryset" not in kwargs:
            kwargs["queryset"] = visible_to(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
