"""Everything staff read about what happened is written when it is read, in
the reader's language, with no rule code (issue 11)."""

import re

import pytest

from history.events import TEXTS, Reason, because, event, readable_contact, write, write_all
from outbox.models import Message
from schedules.models import Appointment

RULE_CODE = re.compile(r"\b[RD]\d{1,2}\b")
# Words only one of the two languages uses (the values below are neutral).
ENGLISH_ONLY = {
    "the", "and", "sent", "on", "to", "by", "failed", "was", "will", "is", "not", "nothing", "appointment",
    "call", "booked", "deleted", "hand", "with", "link", "reminder", "cancellation", "email",
    "phone", "told", "ahead", "hours", "less", "than", "only", "sending", "left", "after", "before", "at",
    "outcome", "unknown", "provider", "could", "take", "it", "number", "does", "work", "refused", "answered",
    "again", "pending", "withdrawn", "patient's", "recipient's", "server", "returned", "line", "busy", "nobody",
}  # fmt: skip
FRENCH_ONLY = {
    "le", "la", "les", "du", "des", "de", "envoi", "rendez-vous", "aucun", "échec", "texto", "courriel", "par",
    "à", "est", "sera", "au", "plus", "rien", "envoyé", "prévu", "annulé", "rappel", "appel", "n’a",
    "pas", "été", "un", "une", "moyen", "résultat", "inconnu", "fournisseur", "heures", "moins",
}  # fmt: skip

VALUES = {
    "message": Message.Kind.values,
    "channel": Message.Channel.values,
    "reason": Reason.values,
    "hub_reason": [value for value in Appointment.HubReason.values if value],
    "state": Message.State.values,
}


def every_event():
    """Each kind with each value it can take (one at a time, the rest fixed)."""
    base = {"message": "reminder", "channel": "sms", "to": "+15145550204", "at": "2026-12-03T19:30:00+00:00",
            "reason": "bad_address", "detail": "SMTP 550 5.1.1", "hub_reason": "outside_slot", "state": "failed"}  # fmt: skip
    for kind in TEXTS:
        yield kind, event(kind, **base)
        for name, values in VALUES.items():
            for value in values:
                yield f"{kind}-{name}={value}", event(kind, **{**base, name: value})


def words(text: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[\w’'-]+", text)}


@pytest.mark.parametrize(("language", "other"), [("fr", ENGLISH_ONLY), ("en", FRENCH_ONLY)])
def test_every_event_reads_in_the_readers_language_without_rule_codes(language, other):
    for name, happened in every_event():
        text = write(happened, "America/Toronto", language)
        assert text and "%(" not in text, name
        assert not RULE_CODE.search(text), (name, text)
        assert not words(text) & other, (name, text, words(text) & other)


@pytest.mark.parametrize(
    ("kind", "french", "english"),
    [
        (
            "sent",
            "Rappel\u00a0: envoi par texto le 3 décembre 2026 à 14\u00a0h\u00a030 à (514) 555-0204.",
            "Reminder sent by SMS on December 3, 2026 at 2:30 PM to (514) 555-0204.",
        ),
        (
            "failed",
            "Rappel\u00a0: échec de l’envoi, l’adresse ou le numéro ne fonctionne pas (SMTP 550 5.1.1).",
            "Reminder failed: the address or number does not work (SMTP 550 5.1.1).",
        ),
        (
            "call_dropped",
            "L’appel (rappel) est abandonné\u00a0: les appels se font de 9\u00a0h à 20\u00a0h, "
            "et la prochaine plage commence après le rendez-vous.",
            "The reminder call is dropped: calls are placed from 9:00 AM to 8:00 PM, "
            "and the next window opens after the appointment.",
        ),
    ],
)
def test_it_writes_the_values_as_each_language_writes_them(kind, french, english):
    happened = event(
        kind, message="reminder", channel="sms", to="+15145550204", at="2026-12-03T19:30:00+00:00",
        reason="bad_address", detail="SMTP 550 5.1.1",
    )  # fmt: skip
    assert write(happened, "America/Toronto", "fr") == french
    assert write(happened, "America/Toronto", "en") == english


def test_the_clinics_clock_tells_the_time():
    happened = event("planned", message="confirmation", at="2026-12-03T19:30:00+00:00")
    assert write(happened, "America/Vancouver", "en") == "Confirmation: to be sent on December 3, 2026 at 11:30 AM."


def test_a_sentence_kept_from_before_reads_as_it_was_written():
    assert write_all([{"kind": "note", "text": "Envoyé le 2026-12-01"}, event("booked")], language="en") == (
        "Envoyé le 2026-12-01 Booked."
    )


def test_an_unknown_kind_is_refused_when_recorded():
    with pytest.raises(ValueError, match="unknown event kind"):
        event("sent_by_pigeon")


@pytest.mark.parametrize(
    ("stored", "readable"),
    [
        ("+15145550204", "(514) 555-0204"),
        ("+33142685300", "+33 1 42 68 53 00"),
        ("jean@example.com", "jean@example.com"),
    ],
)
def test_numbers_read_as_people_write_them(stored, readable):
    assert readable_contact(stored) == readable


def test_a_reason_and_the_providers_words():
    assert because("refused", "Twilio HTTP 400 21602") == "refusé par le fournisseur (Twilio HTTP 400 21602)"
    assert because("past") == "le rendez-vous est déjà passé"
