"""Slots in the back office: a series in one go, closing a day or a range,
and never deleting a slot that holds an active appointment (D14)."""

from datetime import timedelta

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backoffice.admin_filters import ForwardDateFilter
from backoffice.admin_forms import CloseSlotsForm, SlotForm, SlotSeriesForm
from backoffice.admin_scoping import ClinicScopedAdmin
from schedules.access import visible_to
from schedules.models import Appointment, Clinic, Professional, Service, Slot


@admin.register(Slot)
class SlotAdmin(ClinicScopedAdmin):
    form = SlotForm
    list_display = ["start", "end", "professional", "service", "availability", "book_link"]
    # No date hierarchy: it reads every row's date to draw its links. From today on by default.
    list_filter = [ForwardDateFilter, "professional__clinic", "professional", "service__category"]
    search_fields = ["professional__last_name", "service__name_fr", "service__name_en"]
    list_select_related = ["professional__clinic", "service"]
    autocomplete_fields = ["professional", "service"]
    change_list_template = "admin/schedules/slot/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).with_availability()

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "appointment" and request.GET.get("field_name") == "slot":
            # The appointment form's slot picker offers free future slots only.
            queryset = queryset.free().filter(start__gt=timezone.now())
        return queryset, duplicates

    @admin.display(description=_("availability"))
    def availability(self, slot: Slot) -> str:
        if getattr(slot, "held", False):
            return _("Booked")
        if slot.start <= timezone.now():
            return _("Past")
        if getattr(slot, "overlapped", False):
            return _("Taken by another appointment")
        return _("Free")

    @admin.display(description=_("book"))
    def book_link(self, slot: Slot) -> str:
        if getattr(slot, "held", True) or getattr(slot, "overlapped", True) or slot.start <= timezone.now():
            return "—"
        url = reverse("admin:schedules_appointment_add") + f"?slot={slot.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Book"))

    def changelist_view(self, request, extra_context=None):
        # The list's tools (close a day) need to know what the user may delete.
        extra = {"has_delete_permission": self.has_delete_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def get_urls(self):
        own = [
            path("series/", self.admin_site.admin_view(self.series_view), name="schedules_slot_series"),
            path("close/", self.admin_site.admin_view(self.close_view), name="schedules_slot_close"),
        ]
        return own + super().get_urls()

    def _page(self, request, title: str, form, **extra):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "opts": self.model._meta,
            "back": reverse("admin:schedules_slot_changelist"),
            **extra,
        }
        return TemplateResponse(request, "admin/schedules/tool_form.html", context)

    def series_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:schedules_slot_changelist")
        form = SlotSeriesForm(
            request.POST or None,
            professionals=visible_to(Professional.objects.select_related("clinic"), request.user),
            services=visible_to(Service.objects.all(), request.user),
        )
        if request.method == "POST" and form.is_valid():
            professional, service = form.cleaned_data["professional"], form.cleaned_data["service"]
            length = form.cleaned_data["minutes"]
            slots = [
                Slot(professional=professional, service=service, start=start, end=start + timedelta(minutes=length))
                for start in form.starts()
            ]
            # A slot already there (same professional, same start) is kept as it is.
            before = Slot.objects.filter(professional=professional).count()
            Slot.objects.bulk_create(slots, ignore_conflicts=True)
            created = Slot.objects.filter(professional=professional).count() - before
            self.message_user(request, ngettext("%d slot created.", "%d slots created.", created) % created)
            return redirect("admin:schedules_slot_changelist")
        return self._page(request, _("Create a series of slots"), form)

    def close_view(self, request):
        if not self.has_delete_permission(request):
            return redirect("admin:schedules_slot_changelist")
        professionals = visible_to(Professional.objects.select_related("clinic"), request.user)
        clinics = visible_to(Clinic.objects.all(), request.user)
        form = CloseSlotsForm(request.POST or None, clinics=clinics, professionals=professionals)
        if request.method == "POST" and form.is_valid():
            clinic = form.cleaned_data["clinic"]
            first, after_last = form.bounds(clinic.zone)
            slots = Slot.objects.filter(professional__clinic=clinic, start__gte=first, start__lt=after_last)
            if form.cleaned_data["professional"]:
                slots = slots.filter(professional=form.cleaned_data["professional"])
            held = (
                Appointment.objects.filter(slot__in=slots)
                .exclude(status=Appointment.Status.CANCELLED)
                .select_related("patient", "professional__clinic")
                .order_by("start")
            )
            if held:
                # D14: refused; staff move or cancel these first, each sending its own notice.
                messages.error(request, _("These slots hold active appointments: move or cancel them first."))
                return self._page(request, _("Close a day or a range"), form, held=held)
            closed = slots.count()
            slots.delete()
            self.message_user(request, ngettext("%d slot closed.", "%d slots closed.", closed) % closed)
            return redirect("admin:schedules_slot_changelist")
        return self._page(request, _("Close a day or a range"), form)
