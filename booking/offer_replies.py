"""A patient's SMS answer to a waiting list offer (D20): YES takes it."""

from booking import waitlist
from booking.models import Offer, WaitlistEntry
from confirmations import answers, replies
from outbox.models import Message, Reply
from schedules.models import Appointment


def take_offer(reply: Reply) -> str:
    """The first YES gets the slot (the booking's confirmation follows); a
    late one is told the slot is gone, and the patient stays on the list."""
    offer = Offer.objects.filter(message=reply.message).first()
    if offer is not None and waitlist.accept(offer.pk) == Offer.State.ACCEPTED:
        return Reply.Outcome.OFFER_ACCEPTED
    # The offer is over: the YES may well be for the appointment an earlier
    # SMS asked to confirm (R27), which it then confirms.
    earlier = (
        Message.objects.filter(
            channel=Message.Channel.SMS, to=reply.number, sent_at__lte=reply.received_at, appointment__isnull=False
        )
        .exclude(kind__in=Message.SAID_ONCE)
        .order_by("-sent_at", "-id")
        .first()
    )
    if earlier is not None and replies.confirm(reply, earlier, Appointment.Status.CONFIRMED_SMS) in (
        Reply.Outcome.CONFIRMED,
        Reply.Outcome.ALREADY,
    ):
        reply.message = earlier
        return Reply.Outcome.CONFIRMED
    topic = _offer_gone(offer)
    if replies.should_answer(reply, topic, stopped=False):
        replies.answer(reply, topic, stopped=False)
    return Reply.Outcome.OFFER_GONE


def _offer_gone(offer) -> str:
    """What a late YES is told, as the offer's page says it: "you stay on
    the waiting list" only to a patient who does."""
    state = WaitlistEntry.objects.filter(pk=offer.entry_id).values_list("state", flat=True).first() if offer else None
    return {
        WaitlistEntry.State.BOOKED: answers.OFFER_GONE_BOOKED,
        WaitlistEntry.State.REMOVED: answers.OFFER_GONE_REMOVED,
    }.get(state, answers.OFFER_GONE)
