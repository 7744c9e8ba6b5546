"""Delivery outcomes reported by the providers after sending.

Twilio status callbacks (SMS and calls) and anymail tracking events (email)
end here. An outcome only moves a message forward (sent → delivered →
failed), so the same callback twice changes nothing and a late "sent"
never overwrites "delivered". A permanent failure of the address itself
sends the same communication once to the next contact method.
"""

import logging

from anymail.signals import tracking
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from history.events import Reason
from outbox import states
from outbox.dispatch import resend_elsewhere
from outbox.models import Message

log = logging.getLogger(__name__)

# Twilio delivery error codes that mean the number cannot receive SMS.
UNREACHABLE_SMS_CODES = {"30003", "30005", "30006", "21610", "21614"}


def record_outcome(public_id, state: str, reason: str = "", bad_address: bool = False, detail: str = "") -> bool:
    """Moves the message to `state` if that is forward; True if it changed.
    A failure says why (a Reason, and the provider's code in `detail`)."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(public_id=public_id).first()
        if message is None or not states.is_forward(message, state):
            return False
        if state == Message.State.FAILED:
            states.fail(message, reason, detail, expected=message.state)
            if bad_address:
                resend_elsewhere(message, reason, detail)
            return True
        unconfirmed = message.state in (Message.State.SENDING, Message.State.UNKNOWN)
        states.delivered(message, expected=message.state)
        if unconfirmed and message.sent_at is None:
            # It did leave: the appointment's status says so (R29).
            states.record_sent(message, timezone.now(), message.provider_id)
    return True


CALL_FAILURES = {
    "busy": Reason.LINE_BUSY,
    "no-answer": Reason.NOBODY_ANSWERED,
    "failed": Reason.CALL_NOT_PLACED,
    "canceled": Reason.CALL_CANCELLED,
}


def twilio_outcome(params) -> tuple[str, str, bool, str] | None:
    """(state, reason, bad address, detail) from a Twilio status callback,
    or None for a status that is not an outcome (queued, ringing…)."""
    if "CallStatus" in params:
        status = params["CallStatus"]
        if status == "completed":
            return Message.State.DELIVERED, "", False, ""
        if status in CALL_FAILURES:
            return Message.State.FAILED, CALL_FAILURES[status], False, ""
        return None
    status, code = params.get("MessageStatus", ""), params.get("ErrorCode", "")
    if status in ("delivered", "read"):
        return Message.State.DELIVERED, "", False, ""
    if status in ("undelivered", "failed"):
        detail = f"Twilio {code}" if code else ""
        return Message.State.FAILED, Reason.SMS_NOT_DELIVERED, code in UNREACHABLE_SMS_CODES, detail
    return None


@receiver(tracking)
def email_event(sender, event, esp_name: str, **kwargs) -> None:
    """anymail tracking webhook: delivered, bounced, rejected, complained."""
    public_id = (event.metadata or {}).get("hub_message")
    if not public_id:
        return
    if event.event_type == "delivered":
        record_outcome(public_id, Message.State.DELIVERED)
    elif event.event_type in ("bounced", "rejected"):
        reason = Reason.EMAIL_BOUNCED if event.event_type == "bounced" else Reason.EMAIL_REJECTED
        detail = event.description or event.mta_response or ""
        record_outcome(public_id, Message.State.FAILED, reason, bad_address=True, detail=detail[:500])
    elif event.event_type == "complained":
        log.info("email message %s marked as spam by its recipient", public_id)
