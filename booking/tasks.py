"""django-q2 entry points of online booking and the waiting list."""


def offer_slot(slot_id: int) -> str:
    from booking.waitlist import offer_slot

    return f"{offer_slot(slot_id)} offers"


def waitlist_pass() -> str:
    """Every minute: offers end on time, and no free slot is left unoffered."""
    from booking.waitlist import waitlist_pass

    return f"{waitlist_pass()} offers"
