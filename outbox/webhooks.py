"""Twilio webhooks: delivery status, inbound SMS, keys pressed in a call.

Each one checks Twilio's signature over the exact public URL (the Hub may
sit behind a TLS proxy, so the URL Twilio signed is HUB_PUBLIC_URL plus the
path, not what Django sees) and every POST parameter, and refuses anything
else, or everything when no auth token is configured. Handlers only record
and queue: they answer at once and never call a provider. Numbers and
message bodies are personal data: they are not logged, and error reports
hide the POST parameters.
"""

import functools
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from outbox import tracking, voice
from outbox.kinds import composer_for
from outbox.models import Message, Reply
from outbox.signals import reply_recorded

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def signed_url(request) -> str:
    return f"{settings.HUB_PUBLIC_URL}{request.get_full_path()}"


def twilio_webhook(view):
    """POST only, CSRF-exempt (Twilio has no token), signature checked."""

    @csrf_exempt
    @require_POST
    @sensitive_post_parameters()
    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        token = settings.TWILIO_AUTH_TOKEN
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            return HttpResponseForbidden("missing signature")
        # Twilio signs with its own form of the parameters; its validator
        # reads a QueryDict as it is (a repeated key included).
        if not RequestValidator(token).validate(signed_url(request), request.POST, signature):
            log.warning("refused a Twilio webhook with a bad signature on %s", request.path)
            return HttpResponseForbidden("bad signature")
        return view(request, *args, **kwargs)

    return checked


def twiml(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/xml")


@twilio_webhook
def status(request, message_id):
    """Status callback of an SMS or a call placed by the Hub."""
    outcome = tracking.twilio_outcome(request.POST)
    if outcome is not None:
        state, reason, bad_address, detail = outcome
        tracking.record_outcome(message_id, state, reason, bad_address, detail)
    return HttpResponse(status=204)


@twilio_webhook
def inbound_sms(request):
    """An SMS sent to the Hub's number: recorded, then read by the worker."""
    _record(
        Reply.Channel.SMS,
        request.POST.get("From", ""),
        request.POST.get("Body", ""),
        request.POST.get("MessageSid", ""),
    )
    return twiml(EMPTY_TWIML)  # no automatic answer


@twilio_webhook
def gather(request, message_id):
    """A key pressed (or silence) during a reminder call (R28)."""
    message = get_object_or_404(Message, public_id=message_id, channel=Message.Channel.VOICE)
    digits = request.POST.get("Digits", "")
    try:
        attempt = int(request.GET.get("attempt", "1"))
    except ValueError:
        attempt = 1
    if digits:
        _record(
            Reply.Channel.VOICE,
            message.to,
            digits,
            f"{request.POST.get('CallSid', '')}:{attempt}",
            message=message,
        )
    # Read only: the worker records the confirmation; the caller hears now
    # whether there is still something to confirm.
    confirmable = composer_for(message.kind).key_1_confirms(message)
    return twiml(voice.answer_twiml(message, digits, attempt, confirmable))


def _record(channel: str, number: str, body: str, provider_id: str, message: Message | None = None) -> None:
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                channel=channel,
                number=number,
                body=body[:1600],
                provider_id=provider_id,
                message=message,
                clinic_id=message.clinic_id if message else None,
            )
            # Read by whoever listens (confirmations/replies.py), once recorded.
            transaction.on_commit(lambda: reply_recorded.send(sender=Reply, reply_id=reply.pk))
    except IntegrityError:
        pass  # Twilio delivered the same webhook twice: recorded once already
