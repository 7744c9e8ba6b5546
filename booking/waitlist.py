"""The waiting list (D20): a freed slot finds a patient.

When a slot becomes free (a cancellation, a deleted or moved appointment,
a new slot), the first waiting patients whose entry matches it (the
service, the professional if they chose one, the date window) and who
joined before it became free (D21) are offered it,
HUB_WAITLIST_OFFERS_AT_ONCE at a time, through their email (a link) or
mobile (answer YES/OUI). The first to accept gets it: the slot's row is
locked and the one-active-appointment constraint decides. An offer ends
after HUB_WAITLIST_OFFER_MINUTES, and never later than the service's
online booking notice before the start; then the next patients are
offered the slot. A late answer is told the slot is taken; that patient
stays on the list. The booking made from an offer is an ordinary booking.

A patient waits once for a service on given dates (D21): joining again
for overlapping dates widens her entry (`join`).
"""

import logging
from datetime import datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.dispatch import receiver
from django.utils import timezone

from booking import online
from booking.models import BookingRequest, Offer, WaitlistEntry
from confirmations.rules import SILENT_CATEGORY
from outbox.contacts import EMAIL, SMS, configured_channels, contact_for
from outbox.models import Message
from outbox.waker import queue, wake_the_worker_after_commit
from patients.models import Patient
from schedules.actors import PATIENT
from schedules.models import Appointment, Slot
from schedules.signals import slot_freed

log = logging.getLogger(__name__)

ACCEPTED, TAKEN, EXPIRED, WITHDRAWN = (
    Offer.State.ACCEPTED,
    Offer.State.TAKEN,
    Offer.State.EXPIRED,
    Offer.State.WITHDRAWN,
)


@receiver(slot_freed)
def offer_when_committed(sender, slot_id: int, appointment: Appointment | None = None, **kwargs) -> None:
    """A freed slot is free from now on (D21), and offered as soon as its
    change commits, when someone waits for its service (new slots: the
    per-minute pass). An appointment leaving it frees, too, its
    professional's other slots overlapping its times (D16: they were busy)."""
    freed = {slot_id, *(freed_beside(appointment) if appointment is not None else [])}
    # Marked within the change's transaction, so never lost with it; an
    # entry made in the instant before it commits is then not offered this
    # time: the side of D21 that never offers a time the patient saw free.
    Slot.objects.filter(pk__in=freed).update(free_since=timezone.now())
    for each in sorted(freed):
        if WaitlistEntry.objects.filter(state=WaitlistEntry.State.WAITING, service__slots=each).exists():
            transaction.on_commit(partial(queue, "booking.tasks.offer_slot", each))


def freed_beside(appointment: Appointment) -> list[int]:
    """The professional's other slots overlapping the appointment's times
    that are free now that it left them (the appointment itself, as it was,
    no longer counts: cancelled, or about to be deleted; moved, it counts at
    its new times)."""
    return list(
        Slot.objects.free(ignoring=appointment)
        .filter(professional_id=appointment.professional_id, start__lt=appointment.end, end__gt=appointment.start)
        .exclude(pk=appointment.slot_id)
        .values_list("pk", flat=True)
    )


def is_free(slot: Slot, now: datetime) -> bool:
    return online.free_slots(slot.service, slot.professional_id, now, limit=None).filter(pk=slot.pk).exists()


def waiting_for(slot: Slot):
    """The entries this slot suits, first come first, made before it became
    free (D21); never a patient who already holds an appointment at that
    time, nor one offered it already."""
    day = slot.professional.clinic.local(slot.start).date()
    busy = Appointment.objects.filter(patient=OuterRef("patient"), start__lt=slot.end, end__gt=slot.start).exclude(
        status=Appointment.Status.CANCELLED
    )
    offered = Offer.objects.filter(slot=slot, slot_start=slot.start, entry__patient=OuterRef("patient"))
    return (
        WaitlistEntry.objects.filter(
            clinic_id=slot.professional.clinic_id,
            state=WaitlistEntry.State.WAITING,
            service_id=slot.service_id,
            earliest__lte=day,
            latest__gte=day,
        )
        .filter(
            Q(waits_since__lt=slot.free_since)
            | Q(asked_since__lt=slot.free_since, asked_earliest__lte=day, asked_latest__gte=day)
        )
        .filter(Q(professional__isnull=True) | Q(professional_id=slot.professional_id))
        .filter(~Exists(offered))
        .filter(~Exists(busy))
        .select_related("patient", "clinic", "service")
        .order_by("created_at", "id")
    )


def offer_slot(slot_id: int) -> int:
    """Offers a free slot to the next waiting patients, unless it is
    already on offer; returns how many offers were made."""
    now = timezone.now()
    with transaction.atomic():
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("service", "professional__clinic")
            .filter(pk=slot_id)
            .first()
        )
        if slot is None or slot.free_since is None or not slot.professional.clinic.hub_connected:
            return 0  # free since before the Hub kept it: no one joined after (D21)
        if not is_free(slot, now):
            return 0
        # Staff changed the time of a free slot: its offers end, and the new
        # time is offered anew.
        Offer.objects.filter(slot=slot, state=Offer.State.OPEN).exclude(slot_start=slot.start).update(state=WITHDRAWN)
        if Offer.objects.filter(slot=slot, state=Offer.State.OPEN).exists():
            return 0  # one round at a time
        ends = min(
            now + timedelta(minutes=settings.HUB_WAITLIST_OFFER_MINUTES),
            slot.start - slot.service.online_booking_notice,
        )
        if ends <= now:
            return 0
        made, patients = 0, set()
        for entry in waiting_for(slot):
            if made == settings.HUB_WAITLIST_OFFERS_AT_ONCE:
                break
            contact = contact_for(entry.patient, channels=configured_channels() & {EMAIL, SMS})
            if contact is None or entry.patient_id in patients:
                continue  # only an email link or an SMS answer can take an offer; one offer a patient
            patients.add(entry.patient_id)
            message = Message.objects.create(
                kind=Message.Kind.OFFER,
                clinic=slot.professional.clinic,
                patient=entry.patient,
                channel=contact.channel,
                to=contact.to,
                language=entry.language or entry.patient.language,
                due_at=now,
            )
            Offer.objects.create(entry=entry, slot=slot, slot_start=slot.start, message=message, expires_at=ends)
            made += 1
        if made:
            wake_the_worker_after_commit()
        return made


def accept(offer_id: int) -> str:
    """The patient takes the offer: ACCEPTED (booked), or TAKEN, EXPIRED,
    WITHDRAWN. Accepting twice says ACCEPTED again and books once."""
    now = timezone.now()
    with transaction.atomic():
        # One order for every lock: the slot, the entry, then the offer.
        # Two patients accepting one slot queue on the slot; one patient
        # accepting two offers at once queues on her entry; neither holds
        # an offer the other ends below.
        slot_id, entry_id = Offer.objects.filter(pk=offer_id).values_list("slot_id", "entry_id").get()
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("service", "professional__clinic")
            .filter(pk=slot_id)
            .first()
        )
        entry = WaitlistEntry.objects.select_for_update(of=("self",)).select_related("patient").get(pk=entry_id)
        offer = Offer.objects.select_for_update(of=("self",)).select_related("message").get(pk=offer_id)
        if offer.state != Offer.State.OPEN:
            return offer.state
        if entry.state != WaitlistEntry.State.WAITING:
            return _close(offer, WITHDRAWN, now)  # booked from another offer, or taken off the list
        if now >= offer.expires_at:
            return _close(offer, EXPIRED, now)
        if slot is None or slot.pk != offer.slot_id or slot.start != offer.slot_start:
            return _close(offer, WITHDRAWN, now)
        if not is_free(slot, now):
            return _close(offer, TAKEN, now)
        source, language = booked_as(entry)
        try:
            with transaction.atomic():
                appointment = Appointment(slot=slot, patient=entry.patient, source=source, booking_language=language)
                appointment.save(actor=PATIENT)
        except IntegrityError:
            return _close(offer, TAKEN, now)  # booked in the same instant, by staff or the booking page
        entry.state, entry.appointment = WaitlistEntry.State.BOOKED, appointment
        entry.save(update_fields=["state", "appointment"])
        # The others offered this slot are told it is taken when they answer;
        # this patient's other offers end.
        # Locked in one order (by id), so that two acceptances of other
        # slots by other patients, each ending offers of the other, never
        # wait for each other.
        others = Offer.objects.filter(Q(slot=slot) | Q(entry=entry), state=Offer.State.OPEN).exclude(pk=offer.pk)
        list(others.select_for_update(of=("self",)).order_by("pk").values_list("pk"))
        others.filter(slot=slot).update(state=TAKEN)
        others.update(state=WITHDRAWN)
        return _close(offer, ACCEPTED, now)


def booked_as(entry: WaitlistEntry) -> tuple[str, str | None]:
    """The source and booking language of a booking from this entry: one
    the patient joined online is booked online, in the page's language
    (R20); one staff added is a booking from the waiting list, in the
    language of the patient's record, handled like staff's (R4)."""
    if entry.added_by == WaitlistEntry.AddedBy.PATIENT:
        return Appointment.Source.ONLINE_HUB, entry.language
    return Appointment.Source.WAITLIST, None


def _close(offer: Offer, state: str, now) -> str:
    offer.state, offer.answered_at = state, now
    offer.save(update_fields=["state", "answered_at"])
    return state


def expire_offers(now: datetime | None = None) -> int:
    """Ends the offers past their time; their slots go to the next patients."""
    now = now or timezone.now()
    ended = list(Offer.objects.filter(state=Offer.State.OPEN, expires_at__lte=now).values_list("pk", "slot_id"))
    Offer.objects.filter(pk__in=[pk for pk, _slot in ended], state=Offer.State.OPEN).update(state=EXPIRED)
    for slot_id in {slot_id for _pk, slot_id in ended if slot_id}:
        offer_slot(slot_id)
    return len(ended)


def waitlist_pass() -> int:
    """The per-minute catch-up: expired offers end, and every free slot some
    entry waits for is offered (a queued task lost with the broker, an entry
    added after the slot was freed, a series of slots)."""
    expire_offers()
    now = timezone.now()
    made = 0
    entries = WaitlistEntry.objects.filter(state=WaitlistEntry.State.WAITING).select_related("service", "clinic")
    for entry in entries:
        if entry.service.category == SILENT_CATEGORY:
            continue
        # The three soonest she may yet be offered: not those she was
        # offered (at that time), nor those on offer now (one round at a
        # time), which would hide the later ones from her.
        offered_to_her = Offer.objects.filter(
            slot=OuterRef("pk"), slot_start=OuterRef("start"), entry__patient_id=entry.patient_id
        )
        on_offer = Offer.objects.filter(slot=OuterRef("pk"), state=Offer.State.OPEN)
        in_window = (
            online.free_slots(entry.service, entry.professional_id, now, limit=None)
            .filter(between(entry.earliest, entry.latest, entry.clinic.zone), new_to(entry))
            .filter(~Exists(offered_to_her), ~Exists(on_offer))
        )
        for slot in in_window[:3]:
            made += offer_slot(slot.pk)
    return made


def between(earliest, latest, zone) -> Q:
    """Slots starting on these dates (the clinic's days)."""
    return Q(
        start__gte=datetime.combine(earliest, time.min, zone),
        start__lt=datetime.combine(latest + timedelta(days=1), time.min, zone),
    )


def new_to(entry: WaitlistEntry) -> Q:
    """Slots freed after the entry asked for them (D21): after waits_since,
    or, on the dates asked before a widening, after she asked for those."""
    new = Q(free_since__gt=entry.waits_since)
    if entry.asked_since is not None:
        earlier = between(entry.asked_earliest, entry.asked_latest, entry.clinic.zone)
        new |= earlier & Q(free_since__gt=entry.asked_since)
    return new


def ask_for(entry: WaitlistEntry, earliest, latest) -> None:
    """Gives an entry new dates (D21). Narrower ones change nothing else.
    Wider ones: the times free now were in sight, so waits_since becomes
    now; the dates asked before (and since when) are remembered, so the
    times freed there since are still offered. One earlier ask is
    remembered: after two widenings, the dates of the first count from the
    second (a time freed in between may then not be offered; none is ever
    offered that was in sight)."""
    stored = WaitlistEntry.objects.filter(pk=entry.pk).values("earliest", "latest", "waits_since").first()
    if stored is not None and not (earliest >= stored["earliest"] and latest <= stored["latest"]):
        entry.asked_earliest, entry.asked_latest = stored["earliest"], stored["latest"]
        entry.asked_since, entry.waits_since = stored["waits_since"], timezone.now()
    entry.earliest, entry.latest = earliest, latest


def waits_anew(entry: WaitlistEntry) -> None:
    """Another patient or service: another wait, from now (D21)."""
    entry.waits_since = timezone.now()
    entry.asked_earliest = entry.asked_latest = entry.asked_since = None


def join(entry: WaitlistEntry) -> WaitlistEntry:
    """Saves a waiting entry, or (D21: one patient, one service, overlapping
    dates, one entry) widens the patient's entry already waiting for that
    service to cover both; returns the entry that waits. The older entry is
    kept (her place on the list); an entry merged into it leaves the list,
    and its offers go to the one kept."""
    with transaction.atomic():
        # Two joins at once for one patient queue here: one entry, never two.
        # No key update: an acceptance booking for her meanwhile (its new
        # appointment only needs her row to stay) is not held up, and holds
        # the entry this join then waits for without waiting for the join.
        list(Patient.objects.select_for_update(no_key=True).filter(pk=entry.patient_id).values_list("pk"))
        same = (
            WaitlistEntry.objects.select_for_update()
            .filter(
                patient_id=entry.patient_id,
                service_id=entry.service_id,
                state=WaitlistEntry.State.WAITING,
                earliest__lte=entry.latest,
                latest__gte=entry.earliest,
            )
            .exclude(pk=entry.pk)
        )
        if entry.state != WaitlistEntry.State.WAITING or not same:
            entry.save()
            return entry
        kept, *merged = sorted([*same, entry], key=lambda each: (each.pk is None, each.created_at, each.pk))
        _widen(kept, [kept, *merged], entry)
        for each in merged:
            if each.pk is not None:
                Offer.objects.filter(entry=each).update(entry=kept)
                each.state = WaitlistEntry.State.REMOVED
                each.save(update_fields=["state"])
        return kept


def _widen(kept: WaitlistEntry, entries: list[WaitlistEntry], latest: WaitlistEntry) -> None:
    """The kept entry covers every date of `entries`, with any professional
    when they named different ones; the latest asked says the language.
    Times free now on dates it did not cover were in sight: only those
    freed after are offered there (D21, `ask_for`)."""
    ask_for(kept, min(each.earliest for each in entries), max(each.latest for each in entries))
    if len({each.professional_id for each in entries}) > 1:
        kept.professional = None
    kept.language = latest.language or kept.language
    if latest.added_by == WaitlistEntry.AddedBy.PATIENT:
        kept.added_by = WaitlistEntry.AddedBy.PATIENT
    kept.save()


def join_from_request(request: BookingRequest):
    """Puts the verified request's patient on the waiting list, once (D21:
    her entry for the service on overlapping dates is widened instead)."""
    with transaction.atomic():
        request = BookingRequest.objects.select_for_update().get(pk=request.pk)
        if request.entry_id:
            return request.entry
        if request.verified_at is None or request.service_id is None:
            raise online.NotBookable
        entry = join(
            WaitlistEntry(
                clinic_id=request.clinic_id,
                patient=online.patient_for(request),
                service_id=request.service_id,
                professional_id=request.professional_id,
                earliest=request.earliest,
                latest=request.latest,
                language=request.language,
                added_by=WaitlistEntry.AddedBy.PATIENT,
            )
        )
        request.entry = entry
        request.save(update_fields=["entry"])
        return entry
