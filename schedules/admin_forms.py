"""Forms of the back office: the appointment form that warns before a change
the patient will not hear of as staff might expect (D6, D12, D13), and the
slot tools (a series of slots, closing a day or a range, D14)."""

from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from schedules.models import Appointment, Clinic, Professional, Service, Slot

STALE_FORM = _(
    "This appointment was changed after you opened this page (by the patient, a colleague or the Hub). "
    "Nothing was saved: reload the page to see the change, then make yours again."
)


class AppointmentForm(forms.ModelForm):
    acknowledge = forms.BooleanField(
        label=_("I have read the warnings above; save anyway."),
        required=False,
    )
    # D17: the version the form was opened on; a save from an older one is refused.
    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["opened_version"].initial = self.instance.version

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
            found.append(_("D6: the patient will not be told of the service change. To tell them, delete the "
                           "appointment and book it again."))  # fmt: skip
        if stored.slot_id and ("slot" in data and data["slot"] is None or self.leaves_its_slot()):
            found.append(_("D12: outside any slot, the appointment leaves the Hub: pending messages are withdrawn "
                           "and the patient will hear nothing more (no cancellation is sent)."))  # fmt: skip
        if data.get("patient") and data["patient"] != stored.patient:
            found.append(_("D13: the former patient will receive a cancellation, and the new patient a confirmation."))
        return found

    def clean_start(self):
        return within_schedule(self.cleaned_data.get("start"))

    def clean_end(self):
        return within_schedule(self.cleaned_data.get("end"))

    def leaves_its_slot(self) -> bool:
        """D16: new times past the appointment's (unchanged) slot take it out of the slot."""
        data = self.cleaned_data
        slot, start, end = data.get("slot"), data.get("start"), data.get("end")
        if slot is None or slot.pk != self.instance.slot_id or start is None or end is None:
            return False
        return start < slot.start or end > slot.end

    def clean(self):
        cleaned = super().clean()
        opened_on = cleaned.get("opened_version")
        if self.instance.pk is not None and opened_on is not None:
            if opened_on != self.instance.version:
                raise ValidationError(STALE_FORM, code="stale")
            self.instance.version = opened_on  # the save applies only to this version (D17)
        self.current_warnings = self.warnings()
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


class SlotChoiceForm(forms.Form):
    """Copy or move an appointment to another slot (R17)."""

    slot = forms.ModelChoiceField(queryset=Slot.objects.none(), label=_("slot"))

    def __init__(self, *args, slots=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].queryset = slots


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
