"""What other parts of the Hub may want to know of the schedule."""

from django.dispatch import Signal

# A slot may have become free: an appointment in it was cancelled, moved
# out or deleted, or the slot was just created. Sent inside the change's
# transaction with `slot_id` (the waiting list offers it once it commits),
# and `appointment`, as it was, when one left it (its times may free other
# slots of its professional that overlap them).
slot_freed = Signal()

# An appointment was saved, inside the change's transaction: `appointment`,
# `created`. A receiver returns the events the appointment's history should
# add for the change (a list, maybe empty, to have a line written even with
# nothing to add), or None. Appointment.save writes the one line, with who
# made the change and what they said they did (its `actor` and `said`).
appointment_saved = Signal()
# An appointment is about to be deleted, inside the transaction:
# `appointment`. A receiver returns the events of the deletion, or None.
appointment_deleting = Signal()
