"""Forms of the back office: the appointment form that warns before a change
the patient will not hear of as staff might expect (D6, D12, D13), and the
slot tools (a series of slots, closing a day or a range, D14)."""

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from history.dates import duration_text, reader_language
from schedules.models import Appointment, Clinic, Professional, Service, Slot


def delay_text(delay: timedelta) -> str:
    """'24 h', '2 jours' / '2 days', in the reader's language."""
    return duration_text(delay, reader_language())


class DelayField(forms.TypedChoiceField):
    """R8's online cancellation delay as people say it ("24 h", "2 jours"),
    among the delays clinics use, rather than Django's "1 day, 0:00:00".
    Values are minutes."""

    HOURS = [1, 2, 4, 6, 12, 24, 48, 72, 96, 168]
    NOT_OFFERED = _("Online cancellation not offered")

    def __init__(self, hours: list[int] | None = None, empty_label=NOT_OFFERED, **kwargs):
        kwargs.pop("max_length", None)
        self.hours, self.empty_label = hours or self.HOURS, empty_label
        super().__init__(coerce=lambda value: timedelta(minutes=int(value)), empty_value=None, **kwargs)
        self.offer()

    def offer(self, also: timedelta | None = None) -> None:
        """The delays to choose from, written in the active language, with
        `also` (a delay set before, whatever it is) among them, so that a
        save keeps it."""
        self.minutes = [hours * 60 for hours in self.hours]
        if also is not None and minutes_of(also) not in self.minutes:
            self.minutes = sorted([*self.minutes, minutes_of(also)])
        empty = [("", self.empty_label)] if self.empty_label else []
        self.choices = empty + [(str(minutes), delay_text(timedelta(minutes=minutes))) for minutes in self.minutes]

    def prepare_value(self, value):
        return str(minutes_of(value)) if isinstance(value, timedelta) else value

    def valid_value(self, value):
        return value in ("", None) or str(value).isdigit() and int(value) in self.minutes


def minutes_of(delay: timedelta) -> int:
    return int(delay.total_seconds() // 60)


class ServiceForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # In the reader's language; a delay set before is kept, not reset by the next save.
        for name in ("cancellation_delay", "online_booking_notice", "online_booking_horizon"):
            if name in self.fields:  # read-only for clinic staff
                self.fields[name].offer(also=getattr(self.instance, name))

    class Meta:
        model = Service
        fields = [
            "clinic",
            "name_fr",
            "name_en",
            "category",
            "cancellation_delay",
            "online_booking",
            "online_booking_notice",
            "online_booking_horizon",
        ]
        field_classes = {
            "cancellation_delay": DelayField,
            "online_booking_notice": partial(DelayField, hours=[0, 1, 2, 4, 12, 24, 48], empty_label=None),
            "online_booking_horizon": partial(
                DelayField, hours=[24 * days for days in (7, 14, 30, 60, 90, 180, 365)], empty_label=None
            ),
        }


STALE_FORM = _(
    "This appointment was changed after you opened this page (by the patient, a colleague or the Hub). "
    "Nothing was saved: reload the page to see the change, then make yours again."
)


def instant(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def view_of(appointment: Appointment) -> str:
    """D17: a fingerprint of what a staff member's form shows of an
    appointment and what saving it writes back: its fields, and whether it
    is cancelled or confirmed. A form opened on another view is stale. The
    Hub noting a message it sent (status "Confirmation sent", the note)
    changes neither, so it does not make open forms stale; the save's own
    UPDATE still applies only to the version read when the form was posted."""
    shown = (
        appointment.patient_id, appointment.slot_id, appointment.professional_id, appointment.service_id,
        instant(appointment.start), instant(appointment.end), str(appointment.source), appointment.booking_language,
        appointment.notes,
        appointment.is_active, appointment.is_confirmed,
    )  # fmt: skip
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:32]


class AppointmentForm(forms.ModelForm):
    acknowledge = forms.BooleanField(
        label=_("I have read the warnings above; save anyway."),
        required=False,
    )
    # D17: what the form showed when it was opened (see `view_of`).
    opened_view = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["opened_view"].initial = view_of(self.instance)
        if "acknowledge" in self.fields:
            # Offered only beside the warnings it answers (see clean()).
            self.fields["acknowledge"].widget = forms.HiddenInput()

    class Meta:
        model = Appointment
        fields = ["patient", "slot", "professional", "service", "start", "end", "source", "booking_language", "notes"]

    def warnings(self) -> list[str]:
        """What this change will (not) tell the patient, that staff should know first."""
        stored = self.instance
        if stored.pk is None or not hasattr(self, "cleaned_data"):
            return []
        data = self.cleaned_data
        found = []
        if data.get("service") and data["service"] != stored.service:
            # D6
            found.append(_("The patient will not be told of the service change. To tell them, delete the "
                           "appointment and book it again."))  # fmt: skip
        if stored.slot_id and ("slot" in data and data["slot"] is None or self.leaves_its_slot()):
            # D12
            found.append(_("Outside any slot, the appointment leaves the Hub: pending messages are withdrawn "
                           "and the patient will hear nothing more (no cancellation is sent)."))  # fmt: skip
        if data.get("patient") and data["patient"] != stored.patient:
            # D13
            found.append(_("The former patient will receive a cancellation, and the new patient a confirmation."))
        return found

    def clean_start(self):
        return within_schedule(self.cleaned_data.get("start"))

    def clean_end(self):
        return within_schedule(self.cleaned_data.get("end"))

    def leaves_its_slot(self) -> bool:
        """D16: new times past the appointment's (unchanged) slot take it out of the slot."""
        slot = self.cleaned_data.get("slot")
        return slot is not None and slot.pk == self.instance.slot_id and self.outside(slot)

    def outside(self, slot: Slot) -> bool:
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        return start is not None and end is not None and (start < slot.start or end > slot.end)

    def clean(self):
        cleaned = super().clean()
        opened = cleaned.get("opened_view")
        if self.instance.pk is not None and opened and opened != view_of(self.instance):
            raise ValidationError(STALE_FORM, code="stale")
        slot = cleaned.get("slot")
        if self.instance.pk is None and slot is not None and self.outside(slot):
            # D16: a booking in a slot stays within it.
            raise ValidationError(
                {"end": _("A booking in a slot stays within its times; to book other times, leave the slot empty.")}
            )
        self.current_warnings = self.warnings()
        if self.current_warnings and "acknowledge" in self.fields:
            self.fields["acknowledge"].widget = forms.CheckboxInput()
        if self.current_warnings and not cleaned.get("acknowledge"):
            raise ValidationError(
                [ValidationError(warning) for warning in self.current_warnings]
                + [ValidationError(_("Tick the box below to save anyway."))]
            )
        return cleaned


class SlotForm(forms.ModelForm):
    class Meta:
        model = Slot
        fields = ["professional", "service", "start", "end"]

    def clean_start(self):
        return within_schedule(self.cleaned_data.get("start"))

    def clean_end(self):
        return within_schedule(self.cleaned_data.get("end"))


# Days a clinic schedules in. Outside them a date is a typing mistake, and
# near the ends of the calendar a day plus a time zone overflows.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)


def within_schedule(instant: datetime | None) -> datetime | None:
    if instant is not None and not FIRST_DAY <= instant.date() <= LAST_DAY:
        raise ValidationError(
            _("Choose a date between %(first)s and %(last)s."), params={"first": FIRST_DAY, "last": LAST_DAY}
        )
    return instant


class ScheduleDateField(forms.DateField):
    widget = forms.DateInput(attrs={"type": "date"})

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators += [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]


# Django's own names of the days, already translated.
WEEKDAY_CHOICES = sorted(WEEKDAYS.items())


class SlotSeriesForm(forms.Form):
    """A series of slots in one go: days of the week, hours, length, dates."""

    professional = forms.ModelChoiceField(queryset=Professional.objects.none(), label=_("professional"))
    service = forms.ModelChoiceField(queryset=Service.objects.none(), label=_("service"))
    first_day = ScheduleDateField(label=_("first day"))
    last_day = ScheduleDateField(label=_("last day"))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("days of the week"), choices=WEEKDAY_CHOICES, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    day_starts = forms.TimeField(label=_("first slot at"), widget=forms.TimeInput(attrs={"type": "time"}))
    day_ends = forms.TimeField(label=_("last slot ends by"), widget=forms.TimeInput(attrs={"type": "time"}))
    minutes = forms.IntegerField(label=_("length (minutes)"), min_value=5, max_value=480, initial=30)

    def __init__(self, *args, professionals=None, services=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["professional"].queryset = professionals
        self.fields["service"].queryset = services

    def clean(self):
        cleaned = super().clean()
        if {"first_day", "last_day"} <= cleaned.keys() and cleaned["last_day"] < cleaned["first_day"]:
            raise ValidationError(_("The last day comes before the first."))
        if {"first_day", "last_day"} <= cleaned.keys() and (cleaned["last_day"] - cleaned["first_day"]).days > 366:
            raise ValidationError(_("A series covers at most one year."))
        if {"day_starts", "day_ends"} <= cleaned.keys() and cleaned["day_ends"] <= cleaned["day_starts"]:
            raise ValidationError(_("The day must end after it starts."))
        professional, service = cleaned.get("professional"), cleaned.get("service")
        if professional and service and professional.clinic_id != service.clinic_id:
            raise ValidationError(_("The service must belong to the professional's clinic."))
        return cleaned

    def starts(self) -> list[datetime]:
        """Every slot start of the series, in the clinic's time zone."""
        data = self.cleaned_data
        zone = data["professional"].clinic.zone
        length = timedelta(minutes=data["minutes"])
        starts, day = [], data["first_day"]
        while day <= data["last_day"]:
            if day.weekday() in data["weekdays"]:
                start = datetime.combine(day, data["day_starts"], tzinfo=zone)
                end_of_day = datetime.combine(day, data["day_ends"], tzinfo=zone)
                while start + length <= end_of_day:
                    starts.append(start)
                    start += length
            day += timedelta(days=1)
        return starts


class CloseSlotsForm(forms.Form):
    """Close (delete) the slots of a day or a range, of one clinic: its days
    are counted in its own time zone; for one professional or all of them."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), label=_("clinic"))
    professional = forms.ModelChoiceField(
        queryset=Professional.objects.none(), label=_("professional"), required=False, empty_label=_("all")
    )
    first_day = ScheduleDateField(label=_("first day"))
    last_day = ScheduleDateField(label=_("last day"))

    def __init__(self, *args, clinics=None, professionals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        self.fields["professional"].queryset = professionals
        if len(clinics) == 1:
            self.fields["clinic"].initial = clinics[0]

    def clean(self):
        cleaned = super().clean()
        if {"first_day", "last_day"} <= cleaned.keys() and cleaned["last_day"] < cleaned["first_day"]:
            raise ValidationError(_("The last day comes before the first."))
        professional, clinic = cleaned.get("professional"), cleaned.get("clinic")
        if professional and clinic and professional.clinic_id != clinic.pk:
            raise ValidationError(_("The professional works in another clinic."))
        return cleaned

    def bounds(self, zone) -> tuple[datetime, datetime]:
        first: date = self.cleaned_data["first_day"]
        last: date = self.cleaned_data["last_day"]
        return datetime.combine(first, time.min, tzinfo=zone), datetime.combine(
            last + timedelta(days=1), time.min, tzinfo=zone
        )
