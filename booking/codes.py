"""The one-time code's message, in the language of the booking page.

Planned through the outbox (the dispatcher sends it, once, to the address
the patient typed; `_prepare_code`), never re-sent: a patient who did not
get it asks for a new one.
"""

from datetime import datetime

from django.utils.html import escape

from outbox import sms

TEXTS = {
    "fr": {
        "subject": "{clinic}\u00a0: votre code pour prendre rendez-vous",
        "text": "{clinic}\u00a0: votre code pour prendre rendez-vous est {code}. Il est valide 10 minutes. "
        "Si vous n’avez rien demandé, ignorez ce message.",
    },
    "en": {
        "subject": "{clinic}: your code to book an appointment",
        "text": "{clinic}: your code to book an appointment is {code}. It is valid for 10 minutes. "
        "If you did not ask for it, ignore this message.",
    },
}


def snapshot(clinic_name: str, code: str, expires_at: datetime) -> dict:
    return {"clinic": clinic_name, "code": code, "expires_at": expires_at.isoformat()}


def expired(snapshot: dict, now: datetime) -> bool:
    return now >= datetime.fromisoformat(snapshot["expires_at"])


def write(snapshot: dict, language: str, channel: str) -> tuple[str, str, str]:
    """(subject, text, html) of the code's message."""
    texts = TEXTS[language if language in TEXTS else "fr"]
    values = {"clinic": snapshot["clinic"], "code": snapshot["code"]}
    text = texts["text"].format(**values)
    if channel == "sms":
        return "", sms.plain(text), ""
    html = f"<p>{escape(text)}</p>"
    return texts["subject"].format(**values), text, html
