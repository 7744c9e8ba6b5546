"""The single seam where every appointment change plans its messages.

Every save and delete of an appointment, wherever it comes from (admin,
ORM, patient page, webhook), passes through these signal receivers, inside
the transaction of the change (Appointment.save/delete are atomic). They ask
`rules.plan()` what to do, then, in that same transaction, withdraw pending
messages, write the new `Message` rows and the status history. Sends that
are due at once are queued to the worker once the transaction commits; the
per-minute schedule picks up anything else (the outbox row is the truth).
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone

from confirmations import rules
from confirmations.content import snapshot_of
from history.events import event
from outbox import states
from outbox.contacts import contact_for
from outbox.models import Message
from outbox.waker import wake_the_worker_after_commit
from schedules.db import insert
from schedules.models import Appointment
from schedules.signals import appointment_deleting, appointment_saved, slot_freed

log = logging.getLogger(__name__)


def facts_of(appointment: Appointment, stored: bool = False, opted_out: set[str] | None = None) -> rules.Facts:
    """What the rules need to know of `appointment`; with `stored`, its
    scope is the decision recorded at its last save (`hub_reason`)."""
    clinic = appointment.professional.clinic
    contact = contact_for(appointment.patient, opted_out=opted_out)
    return rules.Facts(
        start=appointment.start,
        patient=appointment.patient_id,
        professional=appointment.professional_id,
        clinic_connected=clinic.hub_connected,
        professional_kind=appointment.professional.kind,
        in_slot=appointment.slot_id is not None,
        source=appointment.source,
        service_category=appointment.service.category,
        cancelled=appointment.status == Appointment.Status.CANCELLED,
        time_zone=clinic.timezone,
        channel=contact.channel if contact else None,
        stored_scope=appointment.hub_reason if stored else None,
    )


def stored(appointment: Appointment) -> Appointment | None:
    """The appointment as the database holds it, locked until the change commits."""
    if appointment.pk is None:
        return None
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "professional__clinic", "service")
        .filter(pk=appointment.pk)
        .first()
    )


@dataclass
class Change:
    before: Appointment | None
    plan: rules.Plan
    now: datetime


# Saves limited to these fields cannot change what the patient is told
# (the dispatcher's status note, a patient's confirmation): no planning.
NOT_PLANNED = frozenset({"status", "communication", "updated_at", "notes", "version"})


@receiver(pre_save, sender=Appointment)
def plan_change(sender, instance: Appointment, raw: bool = False, update_fields=None, **kwargs) -> None:
    if raw:
        return
    before = None if instance._state.adding else stored(instance)
    now = timezone.now()
    cancelling = (
        before is not None
        and before.status != instance.status
        and Appointment.Status.CANCELLED
        in (
            before.status,
            instance.status,
        )
    )
    if update_fields is not None and set(update_fields) <= NOT_PLANNED and not cancelling:
        instance._hub_change = Change(before, rules.Plan(), now)
        return
    if before is not None and before.patient_id != instance.patient_id:
        instance.booking_language = None  # R20: the new patient did not book online
    after = facts_of(instance)
    plan = rules.plan(facts_of(before, stored=True) if before else None, after, now)
    instance.hub_reason = rules.scope_reason(after) or ""
    if plan.reset_status and instance.status != Appointment.Status.CANCELLED:
        instance.status, instance.communication = Appointment.Status.BOOKED, {}
    if plan.reset_confirmation and instance.is_confirmed:
        instance.status = Appointment.Status.BOOKED  # D5: the patient confirmed another time
    instance._hub_change = Change(before, plan, now)


@receiver(appointment_saved, sender=Appointment)
def write_change(sender, appointment: Appointment, created: bool, **kwargs) -> list | None:
    """Writes the plan made before the save; returns what the history's line
    for the change says of it (None: no line, nothing happened worth one)."""
    change: Change | None = appointment.__dict__.pop("_hub_change", None)
    if change is None:
        return None
    events = _apply(change.plan, appointment, change.before, change.now)
    if change.before is not None and change.before.start != appointment.start:
        # The old and the new time, for the history (R15, D5).
        events.insert(0, event("moved", before=change.before.start, after=appointment.start))
    if created:
        events.insert(0, event("booked"))
        if appointment.hub_reason:
            events.append(event("not_handled", hub_reason=appointment.hub_reason))  # D1
    before = change.before
    if before is not None and before.slot_id and before.is_active:
        if not appointment.is_active or appointment.slot_id != before.slot_id:
            slot_freed.send(sender=Appointment, slot_id=before.slot_id, appointment=before)
    status_changed = before is None or before.status != appointment.status
    return events if events or status_changed else None


@receiver(appointment_deleting, sender=Appointment)
def plan_deletion(sender, appointment: Appointment, **kwargs) -> list | None:
    """Withdraws what no longer holds and plans the cancellation notice;
    returns what the history's last line says of the deletion."""
    before = stored(appointment)
    if before is None:
        return None
    now = timezone.now()
    plan = rules.plan(facts_of(before, stored=True), None, now)
    # Messages and history of a deleted appointment are kept (D7): the
    # rows are detached from it and keep its public id and snapshot.
    events = _apply(plan, None, before, now)
    if before.slot_id and before.is_active:
        slot_freed.send(sender=Appointment, slot_id=before.slot_id, appointment=before)
    return [event("deleted"), *events]


def _apply(plan: rules.Plan, appointment: Appointment | None, before: Appointment | None, now: datetime) -> list:
    """Writes the plan; returns what staff should read about it (events)."""
    notes = []
    target = appointment or before
    if plan.withdraw:
        # A cancellation notice already planned is never withdrawn by a later
        # change: it is the patient's record of a cancellation (R18, D7, D13);
        # the check when it is due drops it if the appointment is restored.
        withdrawn = states.withdraw_pending(target.public_id, plan.withdraw, keep_kinds=[Message.Kind.CANCELLATION])
        if withdrawn:
            notes.append(event("withdrawn", reason=plan.withdraw))
    if plan.left_hub:
        notes.append(event("left_hub", hub_reason=plan.left_hub))  # D12
    if plan.reset_confirmation:
        notes.append(event("must_confirm_again"))  # D5
    messages, snapshots = [], {}
    for send in plan.send:
        source = before if (send.to_former_patient or send.kind == rules.CANCELLATION) else appointment
        if id(source) not in snapshots:
            snapshots[id(source)] = snapshot_of(source)
        messages.append(
            Message(
                appointment=appointment,
                appointment_ref=target.public_id,
                clinic=source.professional.clinic,
                patient=source.patient,
                kind=send.kind,
                language=source.language,
                due_at=send.due_at,
                planned_start=source.start,
                snapshot=snapshots[id(source)],
            )
        )
    insert(messages)  # one INSERT for the plan
    notes += [_planned_note(message, now) for message in messages]
    notes += plan.notes
    if any(send.due_at <= now for send in plan.send):
        wake_the_worker_after_commit()
    return notes


def _planned_note(message: Message, now: datetime) -> dict:
    if message.due_at <= now:
        return event("planned_now", message=message.kind)
    return event("planned", message=message.kind, at=message.due_at)
