"""The local message page (DEBUG only): every message the Hub sent, in full,
with its links, and a way to answer as the patient would.

Without provider credentials SMS and calls are recorded, not sent. Here a
person can reply to an SMS or press a key during a reminder call: the page
signs the request as Twilio would and hands it to the real webhook view,
so the reply takes the same code path as in production.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.test import RequestFactory
from django.urls import resolve, reverse
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from outbox.models import Message, Reply
from outbox.voice import call_twiml


def debug_only(view):
    def guarded(request, *args, **kwargs):
        if not settings.DEBUG:
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


@debug_only
def messages(request):
    recent = Message.objects.exclude(state=Message.State.PENDING).select_related("patient", "clinic")[:200]
    rows = [
        {"message": message, "twiml": call_twiml(message) if message.channel == "voice" and message.content else ""}
        for message in recent
    ]
    context = {
        "rows": rows,
        "pending": Message.objects.filter(state=Message.State.PENDING).count(),
        "replies": Reply.objects.select_related("message")[:50],
    }
    return render(request, "local_outbox/messages.html", context)


def simulate_twilio(path: str, params: dict):
    """Posts `params` to a Twilio webhook of this Hub, signed as Twilio signs."""
    url = f"{settings.HUB_PUBLIC_URL}{path}"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    request = RequestFactory().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
    match = resolve(path.split("?")[0])
    return match.func(request, *match.args, **match.kwargs)


@debug_only
@require_POST
def reply(request, message_id):
    message = get_object_or_404(Message, public_id=message_id)
    if message.channel == Message.Channel.SMS:
        simulate_twilio(
            reverse("twilio-sms"),
            {
                "From": message.to,
                "To": settings.TWILIO_FROM_NUMBER or "+15555550100",
                "Body": request.POST.get("body", ""),
                "MessageSid": f"SMlocal{Reply.objects.count() + 1:026d}",
            },
        )
    elif message.channel == Message.Channel.VOICE:
        simulate_twilio(
            f"{reverse('twilio-gather', args=[message.public_id])}?attempt=1",
            {"Digits": request.POST.get("digits", ""), "CallSid": f"CAlocal{message.pk:026d}"},
        )
    return redirect("dev-messages")
