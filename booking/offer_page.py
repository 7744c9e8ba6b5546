"""The page an offer's email links to: it shows the freed time and takes it
with one button (the GET only shows: mail scanners open links, D11)."""

from django.shortcuts import redirect

from booking import offers, waitlist
from booking.models import Offer, WaitlistEntry
from booking.pages import show
from confirmations.content import TYPE_LABELS
from confirmations.patient_pages import browser_language, patient_page
from history.dates import long_date

TEXTS = {
    "fr": {
        "title": "Une plage s’est libérée",
        "ask": "Voulez-vous ce rendez-vous\u202f? La première personne à accepter l’obtient.",
        "button": "Je prends ce rendez-vous",
        "accepted": "C’est fait\u202f: ce rendez-vous est à vous. Une confirmation vous est envoyée.",
        "taken": "Désolé, quelqu’un d’autre a pris cette plage. Vous restez sur la liste d’attente.",
        "expired": "Cette offre a pris fin. Vous restez sur la liste d’attente.",
        "withdrawn": "Cette plage n’est plus offerte. Vous restez sur la liste d’attente.",
        "until": "Offre valide jusqu’au {until}.",
        "booked": "Cette offre a pris fin\u202f: vous avez déjà pris un rendez-vous grâce à la liste d’attente.",
        "removed": "Cette offre a pris fin.",
    },
    "en": {
        "title": "A time became free",
        "ask": "Do you want this appointment? The first person to accept gets it.",
        "button": "I take this appointment",
        "accepted": "Done: this appointment is yours. A confirmation is being sent to you.",
        "taken": "Sorry, someone else took this time. You stay on the waiting list.",
        "expired": "This offer has ended. You stay on the waiting list.",
        "withdrawn": "This time is no longer offered. You stay on the waiting list.",
        "until": "Offer valid until {until}.",
        "booked": "This offer has ended: you already booked an appointment from the waiting list.",
        "removed": "This offer has ended.",
    },
}


@patient_page
def offer(request, token: str):
    found = offers.read(token)
    language = request.GET.get("lang")
    if found is None:
        return show(request, "not_found", language if language in TEXTS else browser_language(request), None, {}, 404)
    language = language if language in TEXTS else (found.entry.language or found.entry.patient.language)
    language = language if language in TEXTS else "fr"
    if request.method == "POST":
        waitlist.accept(found.pk)
        return redirect(f"{request.path}?lang={language}")
    found.refresh_from_db()
    state = found.state
    if state == Offer.State.OPEN and not offers.still_open(found):
        state = Offer.State.EXPIRED
    clinic, texts = found.entry.clinic, TEXTS[language]
    context = {
        "o": texts,
        "when": long_date(found.slot_start, clinic.timezone, language),
        "professional": found.slot.professional.full_name if found.slot else "",
        "type": TYPE_LABELS[language].get(found.entry.service.category, ""),
        "service": found.entry.service.name(language),
        "state": state,
        "message": said(texts, state, found.entry),
        "until": texts["until"].format(until=long_date(found.expires_at, clinic.timezone, language)),
    }
    return show(request, "offer", language, clinic, context)


def said(texts: dict, state: str, entry: WaitlistEntry) -> str:
    """What the page says of the offer; "you stay on the waiting list" only
    to a patient who does (not once she booked from another offer)."""
    if state == Offer.State.OPEN:
        return texts["ask"]
    if state == Offer.State.ACCEPTED or entry.state == WaitlistEntry.State.WAITING:
        return texts[state]
    return texts[entry.state]
