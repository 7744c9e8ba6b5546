"""The admin's per-clinic scoping (access.py), applied everywhere the admin
reaches data: change lists and every view by URL (they all go through
get_queryset), foreign-key choices and submitted ids (the form field's
queryset), list filters, autocomplete and raw-id popups (the target model's
own scoped admin). Also a paginator that never counts a whole large table.
"""

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from schedules.access import visible_to

BIGGEST_ID = 2**63 - 1  # a bigint primary key


def row_id(value) -> int | None:
    """A primary key typed in a URL, or None for anything that cannot be
    one ("abc", "1.5", 23 digits): looked up, those fail in the database."""
    text = str(value or "")
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= BIGGEST_ID else None


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A filter by a related object offers only the objects the user may see."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        rows = related._default_manager.all()
        if hasattr(related, "clinic_lookup"):
            rows = visible_to(rows, request.user)
        return [(row.pk, str(row)) for row in rows]


class CappedPaginator(Paginator):
    """Counts at most CAP rows (COUNT over a LIMITed subquery): on a table of
    millions of messages the change list stays fast, and shows "CAP+"."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class ClinicScopedAdmin(admin.ModelAdmin):
    """Shows clinic staff only their clinics' rows, and only their clinics'
    rows as choices in forms and filters."""

    def get_queryset(self, request):
        return visible_to(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "clinic_lookup") and "queryset" not in kwargs:
            kwargs["queryset"] = visible_to(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Rows stay in their clinic (models.keep_clinic).
        if obj is not None and "clinic" not in fields and any(f.name == "clinic" for f in self.model._meta.fields):
            fields.append("clinic")
        return fields

    def get_list_filter(self, request):
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation:
                entry = (entry, ScopedRelatedFilter)
            scoped.append(entry)
        return scoped


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
