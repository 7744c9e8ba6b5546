"""What an SMS reply means (R27, and Canada's carrier rules for SMS).

A reply is read as one keyword when the whole of it, without case,
accents, spaces or punctuation, is one: " Arrêt! " is ARRET. Canadian
carriers require STOP and ARRET (and the usual English opt-out words) to
opt out, START to opt back in, and HELP, AIDE and INFO to be answered.
Failing a keyword, a reply that asks to cancel in so many words ("je veux
annuler", "I need to cancel") is a cancellation request: an SMS cannot
cancel (R23), so staff must handle it. CANCEL alone is both: carriers
treat it as an opt-out, and the patient most likely means the appointment.
"""

import re
import unicodedata

CONFIRM, STOP, START, HELP, WANTS_TO_CANCEL = "confirm", "stop", "start", "help", "wants_to_cancel"

CONFIRM_WORDS = {"OK", "OUI", "YES"}
# The carriers' opt-out words (Twilio's list), and the French ones.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "ARRET", "ARRETER"}
START_WORDS = {"START", "UNSTOP"}
HELP_WORDS = {"HELP", "AIDE", "INFO"}
# A word of a sentence that asks to cancel: "annuler", "annulez",
# "annulation", "cancel", "cancelling", "cancellation".
CANCEL_STEMS = ("ANNUL", "CANCEL")


def plain_letters(text: str) -> str:
    """Upper case, accents removed: 'Arrêt' → 'ARRET'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).upper()


def normalize(body: str) -> str:
    """' Oui! ' → 'OUI', 'Arrêt' → 'ARRET': letters and digits only, no accents."""
    return re.sub(r"[^A-Z0-9]", "", plain_letters(body))


def meaning(body: str) -> set[str]:
    """What a reply asks for: a set of CONFIRM, STOP, START, HELP and
    WANTS_TO_CANCEL (CANCEL alone is STOP and WANTS_TO_CANCEL); empty when
    the Hub cannot tell and staff must read it."""
    word = normalize(body)
    found = set()
    if word in STOP_WORDS:
        found.add(STOP)
    if word in START_WORDS:
        found.add(START)
    if word in HELP_WORDS:
        found.add(HELP)
    if word in CONFIRM_WORDS:
        found.add(CONFIRM)
    words = re.findall(r"[A-Z0-9]+", plain_letters(body))
    if any(w.startswith(CANCEL_STEMS) for w in words):
        found.add(WANTS_TO_CANCEL)
    return found
