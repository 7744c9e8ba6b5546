"""The waiting list (D20): a freed slot finds a patient.

When a slot becomes free (a cancellation, a deleted or moved appointment,
a new slot), the first waiting patients whose entry matches it (the
service, the professional if they chose one, the date window) are offered
it, HUB_WAITLIST_OFFERS_AT_ONCE at a time, through their email (a link) or
mobile (answer YES/OUI). The first to accept gets it: the slot's row is
locked and the one-active-appointment constraint decides. An offer ends
after HUB_WAITLIST_OFFER_MINUTES, and never later than the service's
online booking notice before the start; then the next patients are
offered the slot. A late answer is told the slot is taken; that patient
stays on the list. The booking made from an offer is an ordinary booking.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from booking import online
from booking.models import Offer, WaitlistEntry
from confirmations.contacts import EMAIL, SMS, contact_for
from confirmations.models import Message
from confirmations.planning import queue, wake_the_worker_after_commit
from schedules.actors import PATIENT, acting_as
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
def offer_when_committed(sender, slot_id: int, **kwargs) -> None:
    transaction.on_commit(partial(queue, "booking.tasks.offer_slot", slot_id))


@receiver(post_save, sender=Slot)
def offer_new_slots(sender, instance: Slot, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        offer_when_committed(sender, instance.pk)


def is_free(slot: Slot, now: datetime) -> bool:
    return online.free_slots(slot.service, slot.professional_id, now, limit=None).filter(pk=slot.pk).exists()


def waiting_for(slot: Slot):
    """The entries this slot suits, first come first."""
    day = slot.professional.clinic.local(slot.start).date()
    return (
        WaitlistEntry.objects.filter(
            clinic_id=slot.professional.clinic_id,
            state=WaitlistEntry.State.WAITING,
            service_id=slot.service_id,
            earliest__lte=day,
            latest__gte=day,
        )
        .filter(Q(professional__isnull=True) | Q(professional_id=slot.professional_id))
        .exclude(offers__slot=slot)
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
        if slot is None or not is_free(slot, now):
            return 0
        if Offer.objects.filter(slot=slot, state=Offer.State.OPEN).exists():
            return 0  # one round at a time
        ends = min(
            now + timedelta(minutes=settings.HUB_WAITLIST_OFFER_MINUTES),
            slot.start - slot.service.online_booking_notice,
        )
        if ends <= now:
            return 0
        made = 0
        for entry in waiting_for(slot):
            if made == settings.HUB_WAITLIST_OFFERS_AT_ONCE:
                break
            contact = contact_for(entry.patient, channels={EMAIL, SMS})
            if contact is None:
                continue  # only an email link or an SMS answer can take an offer
            message = Message.objects.create(
                kind=Message.Kind.OFFER,
                clinic=slot.professional.clinic,
                patient=entry.patient,
                channel=contact.channel,
                to=contact.to,
                language=entry.patient.language,
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
        offer = (
            Offer.objects.select_for_update(of=("self",)).select_related("entry__patient", "message").get(pk=offer_id)
        )
        if offer.state != Offer.State.OPEN:
            return offer.state
        if now >= offer.expires_at:
            return _close(offer, EXPIRED, now)
        slot = (
            Slot.objects.select_for_update()
            .select_related("service", "professional__clinic")
            .filter(pk=offer.slot_id)
            .first()
        )
        if slot is None or slot.start != offer.slot_start:
            return _close(offer, WITHDRAWN, now)
        if not is_free(slot, now):
            return _close(offer, TAKEN, now)
        language = offer.message.language if offer.message else offer.entry.patient.language
        try:
            with transaction.atomic(), acting_as(PATIENT):
                appointment = Appointment.objects.create(
                    slot=slot,
                    patient=offer.entry.patient,
                    source=Appointment.Source.ONLINE_HUB,
                    booking_language=language,
                )
        except IntegrityError:
            return _close(offer, TAKEN, now)  # booked in the same instant, by staff or the booking page
        offer.entry.state, offer.entry.appointment = WaitlistEntry.State.BOOKED, appointment
        offer.entry.save(update_fields=["state", "appointment"])
        # The others offered this slot are told it is taken when they answer.
        Offer.objects.filter(slot=slot, state=Offer.State.OPEN).exclude(pk=offer.pk).update(state=TAKEN)
        return _close(offer, ACCEPTED, now)


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
    added after the slot was freed)."""
    expire_offers()
    now = timezone.now()
    made = 0
    for entry in WaitlistEntry.objects.filter(state=WaitlistEntry.State.WAITING).select_related("service"):
        if not entry.service.sends_messages:
            continue
        for slot in online.free_slots(entry.service, entry.professional_id, now, limit=3):
            made += offer_slot(slot.pk)
    return made
