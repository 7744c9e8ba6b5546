"""The agenda: a clinic's day (one column per professional) or week (one row
per professional, one column per day, one line per slot, so that a clinic
of seven fits a 1080-pixel screen).

Each professional's day lists their slots and appointments at their times:
a free slot (book it, or move or copy an appointment into it), a booked one
with its confirmation status as a colour, a mark and a label (never colour
alone), the cancelled ones, appointments outside any slot, and the current
time. Four queries whatever
the number of professionals and days (the clinics, the professionals, the
slots, the appointments). Server-rendered: links and buttons, no script.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from backoffice.admin_forms import FIRST_DAY, LAST_DAY
from schedules.access import visible_to
from schedules.models import Appointment, Clinic, Professional, Service, Slot
from schedules.row_ids import row_id

# How a status reads at a glance: a colour (CSS class), a mark that says the
# same without colour, and its label (shown in the day, heard in the week).
TONES = {
    Appointment.Status.BOOKED: "booked",
    Appointment.Status.SENT_EMAIL: "sent",
    Appointment.Status.SENT_SMS: "sent",
    Appointment.Status.SENT_VOICE: "sent",
    Appointment.Status.CONFIRMED_EMAIL: "confirmed",
    Appointment.Status.CONFIRMED_SMS: "confirmed",
    Appointment.Status.CONFIRMED_VOICE: "confirmed",
    Appointment.Status.CANCELLED: "cancelled",
}
MARKS = {"free": "○", "booked": "●", "sent": "✉", "confirmed": "✓", "cancelled": "✗", "past": "–"}
LEGEND = [
    ("free", _("Free")),
    ("booked", _("Booked")),
    ("sent", _("Confirmation sent")),
    ("confirmed", _("Confirmed")),
    ("cancelled", _("Cancelled")),
    ("past", _("Past")),
]


@dataclass
class Entry:
    """One line of a professional's day: a slot, an appointment, or both."""

    start: datetime  # in the clinic's zone
    end: datetime
    slot: Slot | None = None
    appointment: Appointment | None = None  # the active one
    cancelled: list[Appointment] = field(default_factory=list)
    past: bool = False
    # D16: an active appointment of the professional overlaps the slot (its
    # own, or, when it holds none, another: `Slot.objects.with_availability`).
    overlapped: bool = False

    @property
    def free(self) -> bool:
        return self.slot is not None and self.appointment is None and not self.overlapped

    @property
    def tone(self) -> str:
        if self.appointment is not None:
            return TONES[self.appointment.status]
        if self.slot is None:
            return "cancelled"  # a cancelled appointment outside any slot
        return "past" if self.past or self.overlapped else "free"

    @property
    def mark(self) -> str:
        return MARKS[self.tone]

    @property
    def label(self) -> str:
        if self.appointment is not None:
            return self.appointment.get_status_display()
        if self.slot is None:
            return str(Appointment.Status.CANCELLED.label)
        if self.past:
            return str(_("Past"))
        return str(_("Taken by another appointment")) if self.overlapped else str(_("Free"))


@dataclass
class Cell:
    day: date
    professional: Professional
    entries: list[Entry]
    now_at: int | None = None  # the current time falls before entries[now_at]


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


def build(clinic: Clinic, days: list[date], professionals: list[Professional], now: datetime) -> list[list[Cell]]:
    """Cells per professional and day: [professional][day]."""
    zone = clinic.zone
    first = datetime.combine(days[0], time.min, tzinfo=zone)
    after = datetime.combine(days[-1] + timedelta(days=1), time.min, tzinfo=zone)
    chosen = [professional.pk for professional in professionals]
    slots = (
        Slot.objects.filter(professional_id__in=chosen, start__gte=first, start__lt=after)
        .with_availability()
        .select_related("service")
    )
    appointments = Appointment.objects.filter(
        professional_id__in=chosen, start__gte=first, start__lt=after
    ).select_related("patient", "service")
    entries: dict[tuple[int, date], list[Entry]] = {}
    by_slot: dict[int, Entry] = {}
    for slot in slots.order_by("start"):
        local = timezone.localtime(slot.start, zone)
        entry = Entry(
            local, timezone.localtime(slot.end, zone), slot=slot, past=slot.start <= now, overlapped=slot.overlapped
        )
        by_slot[slot.pk] = entry
        entries.setdefault((slot.professional_id, local.date()), []).append(entry)
    for appointment in appointments.order_by("start", "pk"):
        entry = by_slot.get(appointment.slot_id)
        if entry is None:  # outside any slot, or its slot is elsewhere
            local = timezone.localtime(appointment.start, zone)
            entry = Entry(local, timezone.localtime(appointment.end, zone), past=appointment.start <= now)
            entries.setdefault((appointment.professional_id, local.date()), []).append(entry)
        if appointment.is_active:
            entry.appointment = appointment
        else:
            entry.cancelled.append(appointment)
    today = timezone.localtime(now, zone).date()
    grid = []
    for professional in professionals:
        row = []
        for day in days:
            day_entries = sorted(entries.get((professional.pk, day), []), key=lambda entry: entry.start)
            cell = Cell(day, professional, day_entries)
            if day == today:
                cell.now_at = next((n for n, entry in enumerate(day_entries) if entry.start > now), len(day_entries))
            row.append(cell)
        grid.append(row)
    return grid


def parse_day(value: str | None, default: date) -> date:
    try:
        day = date.fromisoformat(value) if value else default
    except ValueError:
        return default
    return day if FIRST_DAY <= day <= LAST_DAY - timedelta(days=7) else default


def free_slots(user, clinic_id: int):
    """The clinic's free future slots (`Slot.objects.free`) that `user` sees, soonest first."""
    return (
        visible_to(Slot.objects.free(), user)
        .filter(professional__clinic_id=clinic_id, start__gt=timezone.now())
        .select_related("professional__clinic", "service")
        .order_by("start")
    )


def compatible_slots(user, appointment: Appointment, same: int = 5, related: int = 3) -> list[Slot]:
    """The free slots to offer first when moving or copying `appointment`
    (R17: it keeps its service): the soonest of its own service, then the
    soonest of another service of the same category (never admin time or a
    home visit for a visit in the clinic)."""
    slots = free_slots(user, appointment.clinic.pk)
    own = list(slots.filter(service_id=appointment.service_id)[:same])
    alike = slots.filter(service__category=appointment.service.category).exclude(service_id=appointment.service_id)
    return own + list(alike[:related])


def next_free_slot(user, clinic: Clinic, category: str, professional_id: int | None, after: datetime):
    """The first free future slot of the clinic for a service category and,
    when chosen, a professional."""
    slots = free_slots(user, clinic.pk).filter(start__gte=after)
    if category:
        slots = slots.filter(service__category=category)
    if professional_id:
        slots = slots.filter(professional_id=professional_id)
    return slots.first()


def agenda_view(request, admin_site):
    """The agenda page (GET): ?clinic, ?day (YYYY-MM-DD), ?span=day|week,
    ?professional (repeatable), ?move or ?copy (an appointment to place),
    and the "next free slot" search (?find=1&category&with&from)."""
    if not request.user.has_perm("schedules.view_appointment"):
        return redirect("admin:index")
    clinics = list(visible_to(Clinic.objects.all(), request.user).order_by("name"))
    if not clinics:
        messages.info(request, _("No clinic is visible to you."))
        return redirect("admin:index")
    wanted = row_id(request.GET.get("clinic"))
    clinic = next((c for c in clinics if c.pk == wanted), clinics[0])
    now = timezone.now()
    today = timezone.localtime(now, clinic.zone).date()
    day = parse_day(request.GET.get("day"), today)
    span = "week" if request.GET.get("span") == "week" else "day"
    all_professionals = list(Professional.objects.filter(clinic=clinic).order_by("last_name", "first_name"))
    chosen_ids = {row_id(value) for value in request.GET.getlist("professional")} - {None}
    professionals = [p for p in all_professionals if p.pk in chosen_ids] or all_professionals

    placing, placing_mode = None, None
    for mode in ("move", "copy"):
        pk = row_id(request.GET.get(mode))
        if pk:
            candidates = visible_to(Appointment.objects.all(), request.user).filter(pk=pk, professional__clinic=clinic)
            if mode == "move":
                candidates = candidates.exclude(status=Appointment.Status.CANCELLED)  # nothing to move
            placing = candidates.select_related("patient", "professional__clinic", "service").first()
            placing_mode = mode if placing is not None else None
            break

    params = {"clinic": clinic.pk, "span": span}
    if chosen_ids:
        params["professional"] = sorted(chosen_ids)
    if placing is not None:
        params[placing_mode] = placing.pk

    found = None
    if request.GET.get("find"):
        start_from = parse_day(request.GET.get("from"), today)
        after = max(now, datetime.combine(start_from, time.min, tzinfo=clinic.zone))
        category = request.GET.get("category", "")
        category = category if category in Service.Category.values else ""
        wanted_professional = row_id(request.GET.get("with"))
        found = next_free_slot(request.user, clinic, category, wanted_professional, after)
        if found is None:
            messages.warning(request, _("No free slot matches from that date."))
        else:
            url = agenda_url(**params, day=timezone.localtime(found.start, clinic.zone).date(), found=found.pk)
            return redirect(f"{url}#slot-{found.pk}")

    compatible = []
    if placing is not None:
        compatible = compatible_slots(request.user, placing)
        for slot in compatible:
            slot.local_start = timezone.localtime(slot.start, clinic.zone)

    days = week_of(day) if span == "week" else [day]
    grid = build(clinic, days, professionals, now)
    step = timedelta(days=7 if span == "week" else 1)
    context = {
        **admin_site.each_context(request),
        "title": _("Agenda"),
        "clinic": clinic,
        "clinics": clinics,
        "day": day,
        "days": days,
        "span": span,
        "grid": grid,
        "columns": list(zip(professionals, [row[0] for row in grid], strict=True)) if span == "day" else None,
        "professionals": all_professionals,
        "chosen": chosen_ids,
        "placing": placing,
        "placing_mode": placing_mode,
        "compatible": compatible,  # R17: slots of the same service, then category, first
        "found": row_id(request.GET.get("found")),
        "now": timezone.localtime(now, clinic.zone),
        "today": today,
        "categories": [choice for choice in Service.Category.choices if choice[0] != Service.Category.NONE],
        "previous_url": agenda_url(**params, day=day - step),
        "next_url": agenda_url(**params, day=day + step),
        "today_url": agenda_url(**params, day=today),
        "day_url": agenda_url(**{**params, "span": "day"}, day=day),
        "day_links": [
            (shown, agenda_url(**{**params, "span": "day"}, day=shown), not any(row[n].entries for row in grid))
            for n, shown in enumerate(days)
        ],
        "legend": [(tone, MARKS[tone], label) for tone, label in LEGEND],
        "cancelled_mark": MARKS["cancelled"],
        "week_url": agenda_url(**{**params, "span": "week"}, day=day),
        "params": params,
        "may_book": request.user.has_perm("schedules.add_appointment"),
        "may_change": request.user.has_perm("schedules.change_appointment"),
    }
    return TemplateResponse(request, "admin/schedules/agenda.html", context)


def agenda_url(day: date | None = None, **params) -> str:
    query = {**params}
    if day is not None:
        query["day"] = day.isoformat()
    return reverse("admin:schedules_agenda") + "?" + urlencode(query, doseq=True)
