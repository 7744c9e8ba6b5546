"""The admin's per-clinic scoping (access.py), applied everywhere the admin
reaches data: change lists and every view by URL (they all go through
get_queryset), foreign-key choices and submitted ids (the form field's
queryset), list filters, autocomplete and raw-id popups (the target model's
own scoped admin). Also a paginator that never counts a whole large table.
"""

from datetime import datetime

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from simple_history.admin import SimpleHistoryAdmin

from history.events import readable_contact
from schedules.access import is_support, visible_to
from schedules.row_ids import row_id


def parse_moment(value) -> datetime | None:
    """A date and time typed in a URL, aware, or None if it is not one."""
    if isinstance(value, datetime):
        return value
    try:
        moment = parse_datetime(str(value))
    except ValueError:
        return None
    if moment is None or not (1 < moment.year < 9999):
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


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
        rows = self.object_list
        if hasattr(rows, "order_by"):
            rows = rows.order_by()  # counting needs no order: no sort of the whole table first
        return rows[: self.CAP + 1].count()


class ClinicScopedAdmin(admin.ModelAdmin):
    """Shows clinic staff only their clinics' rows, and only their clinics'
    rows as choices in forms and filters. Nonsense in the URL (an id that
    cannot be one, a date at the end of the calendar) gets an empty field or
    Django's "invalid filter" list, never an error page."""

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if field.many_to_one and row_id(value) is None:
                del initial[name]
            elif isinstance(field, models.DateTimeField):
                moment = parse_moment(value)
                if moment is None:
                    del initial[name]
                else:
                    initial[name] = moment
        return initial

    def changelist_view(self, request, extra_context=None):
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()  # the date hierarchy computes its links while rendering
            return response
        except (OverflowError, ValueError):
            if not request.GET:
                raise
            # A filter at the ends of the calendar (year 9999 plus a day):
            # the same answer as Django's for any invalid filter.
            return redirect(f"{request.path}?{ERROR_FLAG}=1")

    def get_queryset(self, request):
        return visible_to(super().get_queryset(request), request.user)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", SafeModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

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
    template = "admin/edit_inline/read_only_tabular.html"  # no empty column headers
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def readable_phone(name: str, label):
    """A list column showing the phone field `name` as people write it."""

    @admin.display(description=label, ordering=name)
    def column(self, row) -> str:
        value = getattr(row, name)
        return readable_contact(value.as_e164) if value else "—"

    column.__name__ = f"{name}_readable"
    return column


class SafeModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses ids that cannot be ids (23 digits, "abc") with the field's
    own error, before the database would overflow on them."""

    def _check_values(self, value):
        if any(row_id(key) is None for key in value):
            raise ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": "?"})
        return super()._check_values(value)


class AuditedAdmin(SimpleHistoryAdmin):
    """The record's "History" page (django-simple-history): who changed which
    field, from what, to what. Only for a record the reader may see in the
    list: a clinic's staff their clinic's, support everyone's (and a deleted
    record's, which has no list row). Nothing is ever restored from it."""

    def _may_see_history(self, request, object_id) -> int | None:
        pk = row_id(object_id)
        if pk is None:
            return None
        if self.get_queryset(request).filter(pk=pk).exists():
            return pk
        return pk if is_support(request.user) and not self.model.objects.filter(pk=pk).exists() else None

    def history_view(self, request, object_id, extra_context=None):
        pk = self._may_see_history(request, object_id)
        if pk is None:
            raise Http404
        return super().history_view(request, str(pk), extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        pk = self._may_see_history(request, object_id)
        if pk is None or row_id(version_id) is None:
            raise Http404
        if request.method != "GET":
            # simple-history's revert setting only hides the button: a POST
            # would still save the old version, past the Hub's own forms.
            return HttpResponseNotAllowed(["GET"])
        return super().history_form_view(request, str(pk), version_id, extra_context)
