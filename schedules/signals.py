"""What other parts of the Hub may want to know of the schedule."""

from django.dispatch import Signal

# A slot may have become free: an appointment in it was cancelled, moved
# out or deleted, or the slot was just created. Sent inside the change's
# transaction with `slot_id` (the waiting list offers it once it commits),
# and `appointment`, as it was, when one left it (its times may free other
# slots of its professional that overlap them).
slot_freed = Signal()
