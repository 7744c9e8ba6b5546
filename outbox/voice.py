"""TwiML for the Hub's phone calls (R24, R28).

Every call says its script of R24 in the message's language. The reminder
wraps it in a one-digit <Gather>: "1" confirms (R28) and thanks the
caller; anything else, or silence, repeats the script once, then says
goodbye. Calls are placed with answering-machine detection that waits for
the end of the greeting (channels.TwilioCall), so a voicemail records the
whole message.
"""

from django.conf import settings
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from history.phones import spoken_phone
from outbox.kinds import composer_for

GATHER_TIMEOUT = 6  # seconds of silence before the script repeats

THANKS = {
    "fr": "Merci. Votre rendez-vous est confirmé. Au revoir.",
    "en": "Thank you. Your appointment is confirmed. Goodbye.",
}
# Pressing 1 for an appointment cancelled (or moved away) meanwhile.
CANNOT_CONFIRM = {
    "fr": "Ce rendez-vous ne peut plus être confirmé. Pour plus d'information, vous pouvez contacter la clinique "
    "au {phone}. Au revoir.",
    "en": "This appointment can no longer be confirmed. For more information, please contact the clinic at "
    "{phone}. Goodbye.",
}
GOODBYE = {"fr": "Au revoir.", "en": "Goodbye."}


def say(response, text: str, language: str) -> None:
    locale, voice = settings.TWILIO_VOICES.get(language, settings.TWILIO_VOICES["fr"])
    response.say(text, language=locale, voice=voice)


def gather_url(message, attempt: int) -> str:
    return f"{settings.HUB_PUBLIC_URL}{reverse('twilio-gather', args=[message.public_id])}?attempt={attempt}"


def call_twiml(message) -> str:
    """What Twilio says when the patient (or their voicemail) answers."""
    return script_twiml(message, attempt=1)


def script_twiml(message, attempt: int) -> str:
    response = VoiceResponse()
    if composer_for(message.kind).asks_for_key_1:
        gather = response.gather(num_digits=1, timeout=GATHER_TIMEOUT, action=gather_url(message, attempt))
        say(gather, message.content, message.language)
        # Reached only when nothing was pressed.
        response.redirect(gather_url(message, attempt))
    else:
        say(response, message.content, message.language)
    return str(response)


def answer_twiml(message, digits: str, attempt: int, confirmable: bool = True) -> str:
    """The reply to a key press (or to silence) during a reminder call.
    Only thanks for a confirmation the Hub will record (`confirmable`)."""
    if digits == "1":
        response = VoiceResponse()
        language = message.language if message.language in THANKS else "fr"
        if confirmable:
            say(response, THANKS[language], language)
        else:
            phone = spoken_phone(message.clinic.phone.as_e164 if message.clinic.phone else "")
            say(response, CANNOT_CONFIRM[language].format(phone=phone), language)
        response.hangup()
        return str(response)
    if attempt < 2:
        return script_twiml(message, attempt + 1)
    response = VoiceResponse()
    say(response, GOODBYE.get(message.language, GOODBYE["fr"]), message.language)
    response.hangup()
    return str(response)
