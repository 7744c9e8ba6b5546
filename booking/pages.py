"""The clinic's booking page (D20): pick a service, a time, give a name and
an email or mobile, type the code sent there, and the appointment is booked.

In French or English, the patient's choice (`?lang=`), which becomes the
appointment's booking language (R20). Pages carry no outside resources, are
never cached nor indexed. A request is bound to the browser that made it
(its session): a leaked address opens nothing. Sending a code is limited
per client address and per email or mobile; every page is limited per
client address like the patient pages (both fail open when the cache is
down, logged).
"""

import hashlib
import logging
import unicodedata
from datetime import date, datetime, time, timedelta

import phonenumbers
from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited
from phonenumber_field.phonenumber import PhoneNumber

from booking import online, rules, waitlist
from booking.models import BookingRequest
from booking.texts import TEXTS
from confirmations.content import TYPE_LABELS
from confirmations.patient_pages import CACHE_ERRORS, browser_language, private, rate_limited
from history.dates import long_date, written_day
from history.events import readable_contact
from history.phones import spoken_phone
from outbox.contacts import EMAIL, SMS, VOICE, configured_channels, contact_for, usable_email
from outbox.models import OptOut
from schedules.models import Appointment, Slot
from schedules.row_ids import row_id

logger = logging.getLogger(__name__)

SESSION_KEY = "booking_requests"
# The requests that booked in this browser: once staff delete the
# appointment, the request no longer says it ever booked (its link is
# emptied), and the booked page must still say it is cancelled.
BOOKED_KEY = "booking_booked"


def booking_page(view):
    return rate_limited(never_cache(require_http_methods(["GET", "HEAD", "POST"])(view)))


def language_of(request) -> str:
    wanted = request.POST.get("lang") or request.GET.get("lang")
    return wanted if wanted in TEXTS else browser_language(request)


def phone_of(clinic) -> str:
    return spoken_phone(clinic.phone.as_e164 if isinstance(clinic.phone, PhoneNumber) else "")


def show(request, template: str, language: str, clinic, context: dict, status: int = 200):
    phone = phone_of(clinic) if clinic else ""
    texts = {key: text.replace("{phone}", phone) for key, text in TEXTS[language].items()}
    with translation.override(language):
        response = render(
            request,
            f"booking/{template}.html",
            {"t": texts, "language": language, "clinic": clinic, "phone": phone, "referrer": "same-origin", **context},
            status=status,
        )
    private(response)
    # The forms post to the same site with Django's CSRF check, which needs
    # the Origin header that "no-referrer" would blank; no address here
    # holds a credential (a request is bound to its browser's session).
    response["Referrer-Policy"] = "same-origin"
    return response


def not_found(request, language: str, clinic=None):
    return show(request, "not_found", language, clinic, {}, status=404)


def to(name: str, language: str, **kwargs) -> str:
    return f"{reverse(name, kwargs=kwargs)}?lang={language}"


def slot_rows(slots, clinic, language: str, address: str) -> list[dict]:
    return [
        {
            "slot": slot,
            "when": long_date(slot.start, clinic.timezone, language),
            "professional": slot.professional.full_name,
            "url": to("booking-details", language, address=address, slot_id=slot.pk),
        }
        for slot in slots
    ]


def offered_services(clinic, language: str, address: str) -> list[dict]:
    return [
        {"name": service.name(language), "url": to("booking-slots", language, address=address, service_id=service.pk)}
        for service in online.open_services(clinic).order_by("name_fr")
    ]


@booking_page
def services(request, address: str):
    language = language_of(request)
    clinic = online.open_clinic(address)
    if clinic is None:
        return not_found(request, language)
    return show(request, "services", language, clinic, {"services": offered_services(clinic, language, address)})


@booking_page
def slots(request, address: str, service_id: int):
    language = language_of(request)
    clinic = online.open_clinic(address)
    service = online.open_services(clinic).filter(pk=service_id).first() if clinic else None
    if service is None:
        return not_found(request, language, clinic)
    professionals = list(clinic.professionals.order_by("last_name", "first_name"))
    chosen = request.GET.get("professional", "")
    professional_id = next((p.pk for p in professionals if str(p.pk) == chosen), None)
    today = timezone.localdate(timezone=clinic.zone)
    last_day = today + service.online_booking_horizon
    day = chosen_day(request.GET.get("from", ""), today)
    times = online.times_page(
        service,
        professional_id,
        after=position(request, "after", service),
        before=position(request, "before", service),
        # A day past the window shows what the day after the window would.
        since=datetime.combine(min(day, last_day + timedelta(days=1)), time.min, clinic.zone) if day else None,
    )
    here = to("booking-slots", language, address=address, service_id=service.pk)
    if professional_id:
        here += f"&professional={professional_id}"
    context = {
        "service_name": service.name(language),
        "professionals": professionals,
        "chosen": professional_id,
        "day": day.isoformat() if day else "",
        "today": today.isoformat(),
        "last_day": last_day.isoformat(),
        "rows": slot_rows(times.slots, clinic, language, address),
        # An empty page (a date past every free time) leads back to the soonest.
        "earlier": (f"{here}&before={times.slots[0].pk}" if times.slots else here) if times.earlier else "",
        "later": f"{here}&after={times.slots[-1].pk}" if times.later else "",
        "back": to("booking-services", language, address=address),
        "join": to("booking-waitlist", language, address=address, service_id=service.pk),
    }
    return show(request, "slots", language, clinic, context)


def chosen_day(text: str, today: date) -> date | None:
    """The day typed in the page's date field, or None if it is not one or
    is past (the soonest times then)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day >= today else None


def position(request, name: str, service) -> Slot | None:
    """The slot a "later" or "earlier" link starts from (booked meanwhile
    or not), or None: a deleted slot or a malformed number show the soonest."""
    slot_id = row_id(request.GET.get(name))
    return Slot.objects.filter(pk=slot_id, service=service).first() if slot_id else None


def _dates(fields: dict, service, clinic) -> tuple | None:
    """The window typed, if it is to come, in order, and within the service's horizon."""
    try:
        earliest, latest = date.fromisoformat(fields["earliest"]), date.fromisoformat(fields["latest"])
    except ValueError:
        return None
    today = timezone.localdate(timezone=clinic.zone)
    last = (timezone.now() + service.online_booking_horizon).astimezone(clinic.zone).date()
    if not today <= earliest <= latest <= last:
        return None
    return earliest, latest


@booking_page
def join_waitlist(request, address: str, service_id: int):
    """When no time suits: the patient asks to wait for one (verified by a code like a booking)."""
    language = language_of(request)
    clinic = online.open_clinic(address)
    service = online.open_services(clinic).filter(pk=service_id).first() if clinic else None
    if service is None:
        return not_found(request, language, clinic)
    texts = TEXTS[language]
    professionals = list(clinic.professionals.order_by("last_name", "first_name"))
    today = timezone.localdate(timezone=clinic.zone)
    names = ("first_name", "last_name", "contact", "earliest", "latest", "professional")
    fields = {name: typed(request, name) for name in names}
    if request.method == "GET":
        fields |= {"earliest": today.isoformat(), "latest": (today + timedelta(days=30)).isoformat()}
    errors, status = {}, 200
    if request.method == "POST":
        contact = who(fields, texts, errors)
        window = _dates(fields, service, clinic)
        if window is None:
            errors["dates"] = texts["bad_dates"].format(days=service.online_booking_horizon.days)
        professional = next((p for p in professionals if str(p.pk) == fields["professional"]), None)
        if not errors:
            status = may_send_code(request, clinic, contact, texts, errors)
        if not errors:
            channel, to_address = contact
            asked = online.ask(
                clinic,
                None,
                language,
                fields["first_name"],
                fields["last_name"],
                channel,
                to_address,
                service=service,
                professional=professional,
                earliest=window[0],
                latest=window[1],
            )
            request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, [])[-9:], str(asked.public_id)]
            return redirect(to("booking-code", language, address=address, request_id=asked.public_id))
    context = {
        "service_name": service.name(language),
        "professionals": professionals,
        "fields": fields,
        "errors": errors,
        "back": to("booking-slots", language, address=address, service_id=service.pk),
    }
    return show(request, "waitlist", language, clinic, context, status=status)


def typed(request, name: str) -> str:
    """A field as typed, without control characters (a NUL cannot be stored), at most 100 characters."""
    text = request.POST.get(name, "")
    return "".join(char for char in text if unicodedata.category(char) != "Cc").strip()[:100]


def who(fields: dict, texts: dict, errors: dict) -> tuple[str, str] | None:
    """Checks the name and contact typed (errors beside each field); the contact, or None."""
    for name in ("first_name", "last_name", "contact"):
        if not fields[name]:
            errors[name] = texts["required"]
    contact = contact_of(fields["contact"]) if fields["contact"] else None
    if fields["contact"] and contact is None:
        errors["contact"] = texts["accented_email" if accented_before_at(fields["contact"]) else "bad_contact"]
    return contact


def accented_before_at(text: str) -> bool:
    """An address whose name has accents (chloé@…): no message could reach
    it (contacts.usable_email), so the form says why rather than "invalid"."""
    local, at, _domain = text.rpartition("@")
    return bool(at) and not local.isascii()


def may_send_code(request, clinic, contact: tuple[str, str], texts: dict, errors: dict) -> int:
    """Whether a code may go to this contact now (else the error, and the
    page's status): within the limits, then reachable. The limits come
    first: asking whether a number opted out costs a try like a code."""
    if codes_limited(request, contact[1]):
        errors["form"] = texts["too_many_codes"].format(phone=phone_of(clinic))
        return 429
    if why := unreachable(*contact):
        errors["contact"] = texts[why]
    return 200


def unreachable(channel: str, to: str) -> str | None:
    """Why a code could not reach this contact, if it could not: this Hub
    does not send by its channel, or the mobile opted out of SMS (a code
    would be refused by the carrier, and the patient left waiting)."""
    if channel not in configured_channels():
        return "email_only" if channel == SMS else "sms_only"
    if channel == SMS and OptOut.objects.filter(number=to).exists():
        return "opted_out"
    return None


def contact_of(text: str) -> tuple[str, str] | None:
    """('email', address) or ('sms', +1 number) from what the patient typed; None if neither."""
    text = text.strip()
    if "@" in text:
        if not usable_email(text):
            return None  # an address the patient's messages could not go to
        local, _at, domain = text.rpartition("@")
        return BookingRequest.Contact.EMAIL, f"{local}@{domain.lower()}"
    try:
        number = phonenumbers.parse(text, "CA")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 1 or not phonenumbers.is_valid_number(number):
        return None
    return BookingRequest.Contact.SMS, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def codes_limited(request, contact: str) -> bool:
    """Too many codes asked for from this address, or for this email or mobile."""
    digest = hashlib.sha256(contact.lower().encode()).hexdigest()
    try:
        by_address = is_ratelimited(
            request,
            group="booking-codes-address",
            key="ip",
            rate=settings.HUB_BOOKING_CODES_PER_ADDRESS,
            increment=True,
        )
        by_contact = is_ratelimited(
            request,
            group="booking-codes-contact",
            key=lambda group, request: digest,
            rate=settings.HUB_BOOKING_CODES_PER_CONTACT,
            increment=True,
        )
    except CACHE_ERRORS as error:
        logger.warning("Booking code sent without its rate limit: the cache failed (%s)", type(error).__name__)
        return False
    return by_address or by_contact


def free_slot(clinic, slot_id: int) -> Slot | None:
    slot = (
        Slot.objects.select_related("professional__clinic", "service")
        .filter(pk=slot_id, professional__clinic=clinic)
        .first()
    )
    return slot if slot is not None and online.is_free(slot) else None


@booking_page
def details(request, address: str, slot_id: int):
    language = language_of(request)
    clinic = online.open_clinic(address)
    slot = free_slot(clinic, slot_id) if clinic else None
    if slot is None:
        return not_found(request, language, clinic)
    fields = {name: typed(request, name) for name in ("first_name", "last_name", "contact")}
    errors, status = {}, 200
    if request.method == "POST":
        texts = TEXTS[language]
        contact = who(fields, texts, errors)
        if not errors:
            status = may_send_code(request, clinic, contact, texts, errors)
        if not errors:
            channel, to_address = contact
            asked = online.ask(clinic, slot, language, fields["first_name"], fields["last_name"], channel, to_address)
            request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, [])[-9:], str(asked.public_id)]
            return redirect(to("booking-code", language, address=address, request_id=asked.public_id))
    context = {
        "slot_row": slot_rows([slot], clinic, language, address)[0],
        "service_name": slot.service.name(language),
        "fields": fields,
        "errors": errors,
        "back": to("booking-slots", language, address=address, service_id=slot.service_id),
    }
    return show(request, "details", language, clinic, context, status=status)


def own_request(request, clinic, request_id) -> BookingRequest | None:
    """The booking request, only in the browser that made it."""
    if clinic is None or str(request_id) not in request.session.get(SESSION_KEY, []):
        return None
    return (
        BookingRequest.objects.select_related(
            "slot__service", "slot__professional", "service", "appointment__patient", "entry__patient"
        )
        .filter(public_id=request_id, clinic=clinic)
        .first()
    )


@booking_page
def code(request, address: str, request_id):
    language = language_of(request)
    clinic = online.open_clinic(address)
    asked = own_request(request, clinic, request_id)
    if asked is None:
        return not_found(request, language, clinic)
    if asked.appointment_id or asked.entry_id:
        return redirect(to("booking-done", language, address=address, request_id=asked.public_id))
    if why := why_not_bookable(clinic, asked):
        return elsewhere(request, clinic, asked, why, language, address)  # the code would book nothing
    texts, error = TEXTS[language], ""
    if request.method == "POST":
        outcome = online.verify(asked.public_id, request.POST.get("code", ""))
        if outcome == rules.RIGHT:
            asked.refresh_from_db()
            if joins_waitlist(asked):
                waitlist.join_from_request(asked)
                return redirect(to("booking-done", language, address=address, request_id=asked.public_id))
            return _book(request, clinic, asked, asked.slot, language, address)
        error = texts[outcome]
    context = {
        "code_message": texts["code_sent"].format(contact=readable_contact(asked.contact)),
        "error": error,
        "ended": error in (texts["expired"], texts["too_many"], texts["used"]),
        "joining": joins_waitlist(asked),
        "again": (
            to("booking-details", language, address=address, slot_id=asked.slot_id)
            if asked.slot_id
            else to("booking-waitlist", language, address=address, service_id=asked.service_id)
        ),
    }
    return show(request, "code", language, clinic, context, status=200 if not error else 400)


@booking_page
@require_POST
def choose(request, address: str, request_id):
    """After a slot was taken: the patient, already verified, picks another."""
    language = language_of(request)
    clinic = online.open_clinic(address)
    asked = own_request(request, clinic, request_id)
    slot_id = row_id(request.POST.get("slot"))
    slot = free_slot(clinic, slot_id) if asked is not None and slot_id is not None else None
    if asked is None:
        return not_found(request, language, clinic)
    return _book(request, clinic, asked, slot, language, address)


def _book(request, clinic, asked: BookingRequest, slot: Slot | None, language: str, address: str):
    texts = TEXTS[language]
    asked.refresh_from_db()
    if asked.appointment_id:
        return redirect(to("booking-done", language, address=address, request_id=asked.public_id))
    if not online.may_choose(asked):
        return show(request, "message", language, clinic, {"message": texts["expired_request"], "restart": True})
    try:
        if slot is None:
            raise online.NotBookable
        online.book(asked, slot)
        remember_booked(request, asked)
    except online.TooManyBookings as refused:
        text, count = (
            ("too_many_for_contact", settings.HUB_ONLINE_BOOKINGS_PER_CONTACT)
            if refused.for_contact
            else ("too_many_bookings", settings.HUB_ONLINE_BOOKINGS_PER_PATIENT)
        )
        message = texts[text].format(count=count, phone=phone_of(clinic))
        return show(request, "message", language, clinic, {"message": message}, status=409)
    except online.NotBookable:
        return elsewhere(request, clinic, asked, why_not_bookable(clinic, asked) or TAKEN, language, address)
    return redirect(to("booking-done", language, address=address, request_id=asked.public_id))


# Why the time a request was for cannot be booked: another patient took it,
# support deleted the slot, or the service no longer takes bookings online.
TAKEN, GONE, CLOSED = "taken", "gone", "closed"


def joins_waitlist(asked: BookingRequest) -> bool:
    # Only a request to join the waiting list has dates (one for a slot
    # has a service too: the slot's, see online.ask).
    return asked.earliest is not None


def service_asked(asked: BookingRequest):
    """The service the request is for (a request made before requests kept
    their slot's service knows it only through the slot)."""
    return asked.service if asked.service_id else asked.slot.service if asked.slot_id else None


def why_not_bookable(clinic, asked: BookingRequest) -> str | None:
    """CLOSED or GONE when a request can no longer book anything (or join
    the waiting list), whatever the code typed; None otherwise (a slot taken meanwhile is
    found only when booking)."""
    service = service_asked(asked)
    if service is not None and not online.open_services(clinic).filter(pk=service.pk).exists():
        return CLOSED
    if joins_waitlist(asked):
        return None
    return GONE if asked.slot_id is None else None


def elsewhere(request, clinic, asked: BookingRequest, why: str, language: str, address: str):
    """Says why the time asked for cannot be booked, and offers what can:
    the service's next free times (taken without a new code once the code
    was right), or else the services open online."""
    texts, phone = TEXTS[language], phone_of(clinic)
    service = service_asked(asked) if why != CLOSED else None
    rows = slot_rows(online.free_slots(service), clinic, language, address) if service else []
    context = {
        "heading": texts["title" if why == CLOSED else "choose_slot"],
        "message": texts[why].format(phone=phone),
        "then": texts["next_times"] if rows else texts["no_slot"].format(phone=phone) if service else "",
        "rows": rows,
        "choose_url": (
            to("booking-choose", language, address=address, request_id=asked.public_id)
            if online.may_choose(asked)
            else ""
        ),
        "services": [] if service else offered_services(clinic, language, address),
    }
    return show(request, "taken", language, clinic, context, status=409)


@booking_page
def done(request, address: str, request_id):
    language = language_of(request)
    clinic = online.open_clinic(address)
    asked = own_request(request, clinic, request_id)
    if asked is not None and asked.entry_id:
        note = joined_note(asked.entry, asked.contact, language, clinic)
        return show(request, "joined", language, clinic, {"note": note})
    if asked is None:
        return not_found(request, language, clinic)
    if asked.appointment is None:
        if not booked_here(request, asked):
            return not_found(request, language, clinic)  # it never booked
        return show(request, "done", language, clinic, deleted_context(language, clinic, address))
    remember_booked(request, asked)  # in case the session missed it when booking
    appointment, texts = asked.appointment, TEXTS[language]
    cancelled = appointment.status == Appointment.Status.CANCELLED
    context = {
        "cancelled": cancelled,
        "when": long_date(appointment.start, clinic.timezone, language),
        "professional": appointment.professional.full_name,
        "type": TYPE_LABELS[language].get(appointment.service.category, ""),
        "booked_note": (
            texts["cancelled_note"].format(phone=phone_of(clinic))
            if cancelled
            else booked_note(appointment.patient, asked.contact, language, clinic)
        ),
        "again": to("booking-services", language, address=address),
    }
    return show(request, "done", language, clinic, context)


def remember_booked(request, asked: BookingRequest) -> None:
    booked = request.session.get(BOOKED_KEY, [])
    if str(asked.public_id) not in booked:
        request.session[BOOKED_KEY] = [*booked[-9:], str(asked.public_id)]


def booked_here(request, asked: BookingRequest) -> bool:
    return str(asked.public_id) in request.session.get(BOOKED_KEY, [])


def deleted_context(language: str, clinic, address: str) -> dict:
    """The booked page once staff deleted the appointment: cancelled, as the
    notice the patient was sent says (R18). What and when it was is gone
    with it (the request's slot is not it once staff moved it), so the page
    shows no details rather than wrong ones."""
    return {
        "cancelled": True,
        "booked_note": TEXTS[language]["cancelled_note"].format(phone=phone_of(clinic)),
        "again": to("booking-services", language, address=address),
    }


def booked_note(patient, typed: str, language: str, clinic) -> str:
    """Where the appointment's messages go: the contact the dispatcher will
    choose from the record (R19, D9), not necessarily the one typed."""
    texts, contact = TEXTS[language], contact_for(patient)
    if contact is None:
        return texts["booked_unreachable"].format(phone=phone_of(clinic))
    text = "booked_by_call" if contact.channel == VOICE else "booked_note"
    return texts[text].format(contact=shown_contact(contact.to, typed))


def joined_note(entry, typed: str, language: str, clinic) -> str:
    """Where offers will go: the contact waitlist.offer_slot chooses (R19,
    by email or SMS only, since only those can take an offer)."""
    texts = TEXTS[language]
    contact = contact_for(entry.patient, channels=configured_channels() & {EMAIL, SMS})
    if contact is None:
        return texts["joined_unreachable"].format(phone=phone_of(clinic))
    return texts["joined_note"].format(
        contact=shown_contact(contact.to, typed),
        earliest=written_day(entry.earliest, language),
        latest=written_day(entry.latest, language),
    )


def shown_contact(to: str, typed: str) -> str:
    """A contact from the patient's file as the page shows it: in full when
    it is the one typed (the code just proved it is theirs), else masked:
    whoever knows a mobile and a name must not read the rest of the file."""
    if to.casefold() == typed.casefold():
        return readable_contact(to)
    if "@" in to:
        local, _at, domain = to.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    return f"•••-•••-{to[-4:]}"
