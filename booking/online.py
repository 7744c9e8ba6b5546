"""Online booking on the clinic's page (D20), the database side.

The page asks `free_slots` what to show, `ask` to send a one-time code to
the email or mobile the patient typed, `verify` whether the code typed is
right, and `book` to make the appointment: an ordinary booking (source
"online, the Hub's page", booking language the page's, R20), so that the
usual confirmation and reminder follow. Two patients on one slot: the
database's one-active-appointment-per-slot constraint decides, and the
other is offered the next free slots.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from booking import codes, rules
from booking.models import BookingRequest
from confirmations.keywords import plain_letters
from confirmations.rules import SILENT_CATEGORY
from outbox.contacts import EMAIL, SMS, configured_channels
from outbox.models import Message
from outbox.waker import wake_the_worker_after_commit
from patients.models import Patient
from schedules.actors import PATIENT
from schedules.models import Appointment, Clinic, Service, Slot


class NotBookable(Exception):
    """The slot can no longer be booked online (taken, past the window, or closed)."""


class TooManyBookings(Exception):
    """The patient already holds as many upcoming online bookings as a clinic
    allows (`for_contact`: as many as one email or mobile may make)."""

    def __init__(self, for_contact: bool = False):
        super().__init__()
        self.for_contact = for_contact


def open_clinic(address: str) -> Clinic | None:
    # R1: only a clinic connected to the Hub confirms what is booked; and
    # a code must be able to reach the patient, by email or SMS.
    if not configured_channels() & {EMAIL, SMS}:
        return None
    return Clinic.objects.filter(booking_address=address, online_booking=True, hub_connected=True).first()


def open_services(clinic: Clinic):
    # R5: a booking the Hub would not confirm is not offered.
    return Service.objects.filter(clinic=clinic, online_booking=True).exclude(category=SILENT_CATEGORY)


def free_slots(service: Service, professional_id: int | None = None, now: datetime | None = None, limit: int = 12):
    """The service's slots a patient may book online now, soonest first:
    free (`Slot.objects.free`) and within the service's window."""
    now = now or timezone.now()
    earliest, latest = rules.window(now, service.online_booking_notice, service.online_booking_horizon)
    slots = Slot.objects.free().filter(
        service=service,
        professional__clinic_id=service.clinic_id,
        start__gte=earliest,
        start__lte=latest,
    )
    if professional_id is not None:
        slots = slots.filter(professional_id=professional_id)
    return slots.select_related("professional", "service").order_by("start", "id")[:limit]


@dataclass
class Times:
    """One page of free times, and whether there are free times before and after it."""

    slots: list[Slot]
    earlier: bool
    later: bool


def _after(slot: Slot) -> Q:
    # Slots sharing a start are ordered by id: a page never cuts between them.
    return Q(start__gt=slot.start) | Q(start=slot.start, id__gt=slot.id)


def _before(slot: Slot) -> Q:
    return Q(start__lt=slot.start) | Q(start=slot.start, id__lt=slot.id)


def times_page(
    service: Service,
    professional_id: int | None = None,
    *,
    after: Slot | None = None,
    before: Slot | None = None,
    since: datetime | None = None,
    size: int = 12,
) -> Times:
    """`size` free times (`free_slots`): the soonest, or those right after
    the slot `after`, right before the slot `before`, or from `since`. With
    none left past a slot (taken meanwhile), the soonest; with none from
    `since`, none (and whether there are earlier ones)."""
    free = free_slots(service, professional_id, limit=None)
    if after is not None:
        shown = list(free.filter(_after(after))[:size])
    elif before is not None:
        shown = list(free.filter(_before(before)).order_by("-start", "-id")[:size])[::-1]
    else:
        shown = list((free if since is None else free.filter(start__gte=since))[:size])
    if not shown and (after or before):
        return times_page(service, professional_id, size=size)
    if not shown:
        return Times([], earlier=free.exists(), later=False)
    return Times(shown, earlier=free.filter(_before(shown[0])).exists(), later=free.filter(_after(shown[-1])).exists())


def is_free(slot: Slot, now: datetime | None = None) -> bool:
    service = slot.service
    return (
        service.online_booking
        and service.category != SILENT_CATEGORY
        and slot.professional.clinic.online_booking
        and free_slots(service, slot.professional_id, now, limit=None).filter(pk=slot.pk).exists()
    )


def ask(
    clinic: Clinic,
    slot: Slot | None,
    language: str,
    first_name: str,
    last_name: str,
    channel: str,
    contact: str,
    **waiting,
):
    """Records the request (a slot to book, or with `waiting` the service,
    professional and dates to wait for) and plans the code's message, due now.
    A slot's service is kept too: if support deletes the slot meanwhile,
    the page can still offer the service's other times."""
    now = timezone.now()
    code = rules.new_code()
    with transaction.atomic():
        request = BookingRequest(
            clinic=clinic,
            slot=slot,
            **({"service": slot.service} if slot else {}),
            **waiting,
            language=language,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            contact_channel=channel,
            contact=contact,
            expires_at=now + rules.CODE_LIFETIME,
        )
        request.code_hash = rules.code_hash(request.public_id, code)
        request.save()
        Message.objects.create(
            kind=Message.Kind.CODE,
            clinic=clinic,
            channel=channel,
            to=contact,
            language=language,
            due_at=now,
            snapshot=codes.snapshot(clinic.name, code, request.expires_at),
        )
        wake_the_worker_after_commit()
    return request


def verify(public_id, typed: str) -> str:
    """Checks a typed code (rules.check); a wrong one counts, the right one opens the request once."""
    with transaction.atomic():
        request = BookingRequest.objects.select_for_update().filter(public_id=public_id).first()
        if request is None:
            return rules.WRONG
        outcome = rules.check(
            stored_hash=request.code_hash,
            request_id=request.public_id,
            typed=typed,
            tries=request.wrong_codes,
            expires_at=request.expires_at,
            used=request.verified_at is not None,
            now=timezone.now(),
        )
        if outcome == rules.WRONG:
            request.wrong_codes += 1
            request.save(update_fields=["wrong_codes"])
        elif outcome == rules.RIGHT:
            request.verified_at = timezone.now()
            request.save(update_fields=["verified_at"])
        return outcome


def may_choose(request: BookingRequest, now: datetime | None = None) -> bool:
    """A verified request may still book (or pick another slot) for a while, once."""
    now = now or timezone.now()
    return (
        request.verified_at is not None
        and request.appointment_id is None
        and now < request.verified_at + rules.CHOOSE_WITHIN
    )


def book(request: BookingRequest, slot: Slot) -> Appointment:
    """Books `slot` for the verified request's patient, or raises
    NotBookable (taken meanwhile, or no longer in the window) or
    TooManyBookings."""
    try:
        with transaction.atomic():
            # Locks the requests made with this email or mobile, in one order
            # (the request's own among them): a double click books once, and
            # bookings with one contact count one after the other.
            with_contact = same_contact(request).select_for_update().order_by("pk")
            request = next(each for each in with_contact if each.pk == request.pk)
            if request.appointment_id:
                return request.appointment  # a second click while the first was booking
            if not may_choose(request):
                raise NotBookable
            slot = (
                Slot.objects.select_for_update(of=("self",))
                .select_related("service", "professional__clinic")
                .get(pk=slot.pk)
            )
            if slot.professional.clinic_id != request.clinic_id or not is_free(slot):
                raise NotBookable
            patient = patient_for(request)
            if upcoming_online(patient) >= settings.HUB_ONLINE_BOOKINGS_PER_PATIENT:
                raise TooManyBookings
            if upcoming_by_contact(request) >= settings.HUB_ONLINE_BOOKINGS_PER_CONTACT:
                raise TooManyBookings(for_contact=True)
            appointment = Appointment(
                slot=slot, patient=patient, source=Appointment.Source.ONLINE_HUB, booking_language=request.language
            )
            appointment.save(actor=PATIENT)
            request.slot, request.appointment = slot, appointment
            request.save(update_fields=["slot", "appointment"])
            return appointment
    except IntegrityError as error:
        raise NotBookable from error  # another patient took it in the same instant


def upcoming_online(patient: Patient) -> int:
    return (
        Appointment.objects.filter(patient=patient, source=Appointment.Source.ONLINE_HUB, start__gt=timezone.now())
        .exclude(status=Appointment.Status.CANCELLED)
        .count()
    )


def same_contact(request: BookingRequest):
    """The clinic's booking requests made with this request's email or mobile."""
    return BookingRequest.objects.filter(
        clinic_id=request.clinic_id, contact_channel=request.contact_channel, contact__iexact=request.contact
    )


def upcoming_by_contact(request: BookingRequest) -> int:
    """Upcoming online bookings made with this request's email or mobile, under any name."""
    return (
        same_contact(request)
        .filter(appointment__start__gt=timezone.now())
        .exclude(appointment__status=Appointment.Status.CANCELLED)
        .count()
    )


def same_name(a: str, b: str) -> bool:
    return plain_letters(a).strip() == plain_letters(b).strip()


def patient_for(request: BookingRequest) -> Patient:
    """The clinic's patient with this verified contact and this name, or a
    new record. A contact alone is not enough: families share an email."""
    by_contact = (
        Q(email__iexact=request.contact)
        if request.contact_channel == BookingRequest.Contact.EMAIL
        else Q(mobile=request.contact)
    )
    for patient in Patient.objects.filter(by_contact, clinic_id=request.clinic_id).order_by("-created_at"):
        if same_name(patient.first_name, request.first_name) and same_name(patient.last_name, request.last_name):
            return patient
    contact = {"email" if request.contact_channel == BookingRequest.Contact.EMAIL else "mobile": request.contact}
    return Patient.objects.create(
        clinic_id=request.clinic_id,
        first_name=request.first_name,
        last_name=request.last_name,
        language=request.language,
        **contact,
    )


def forget_old_requests(now: datetime | None = None) -> int:
    """Names, contacts and code hashes of requests older than the retention
    period are deleted (D19); the appointments and entries they made stay."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HUB_RETENTION_DAYS)
    return BookingRequest.objects.filter(created_at__lt=cutoff).delete()[0]
