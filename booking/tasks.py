"""django-q2 entry points of online booking and the waiting list."""

from booking import waitlist


def offer_slot(slot_id: int) -> str:
    return f"{waitlist.offer_slot(slot_id)} offers"


def waitlist_pass() -> str:
    """Every minute: offers end on time, and no free slot is left unoffered."""
    return f"{waitlist.waitlist_pass()} offers"
