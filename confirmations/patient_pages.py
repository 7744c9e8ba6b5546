"""The pages a patient reaches from an email: cancel (R25) and confirm (R26).

A link opens a page (GET) that shows the appointment and one button; only
the button's POST acts, because mail scanners and link previews open links
(D11). Every link problem (tampered, unknown, for another action, or an
appointment that has started) gets the same page, which tells nothing about
whether the appointment exists. Pages carry no third-party resources, are
never cached, and send no referrer, so the token goes nowhere else.

The POSTs are exempt from Django's CSRF check: the signed token in the URL
is the only credential (no session, no cookie), so a forged request needs
the token itself, and with `Referrer-Policy: no-referrer` browsers send
`Origin: null`, which the CSRF check would refuse.
"""

import logging
from functools import wraps

from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited
from django_ratelimit.exceptions import Ratelimited
from phonenumber_field.phonenumber import PhoneNumber
from redis.exceptions import RedisError

from confirmations import links, rules
from confirmations.content import TYPE_LABELS
from history.dates import long_date
from history.events import event
from history.phones import spoken_phone
from schedules.actors import PATIENT
from schedules.models import Appointment

TEXTS = {
    "fr": {
        "title_cancel": "Annuler votre rendez-vous",
        "title_confirm": "Confirmer votre rendez-vous",
        "date": "Date et heure",
        "professional": "Professionnel",
        "type": "Type",
        "clinic": "Clinique",
        "cancel_button": "Annuler le rendez-vous",
        "confirm_button": "Confirmer ma présence",
        "cancel_question": "Voulez-vous annuler ce rendez-vous\u202f? "
        "La plage horaire sera libérée pour un autre patient.",
        "confirm_question": "Confirmez-vous votre présence à ce rendez-vous\u202f?",
        "cancelled": "Votre rendez-vous est annulé. Un courriel de confirmation de l’annulation vous sera envoyé.",
        "already_cancelled": "Ce rendez-vous est annulé.",
        "confirmed": "Merci\u202f! Votre présence est confirmée.",
        "cannot_confirm_cancelled": "Ce rendez-vous a été annulé\u00a0: il ne peut pas être confirmé. "
        "Pour prendre un nouveau rendez-vous, appelez la clinique au {phone}.",
        "too_late": "Il n’est plus possible d’annuler ce rendez-vous en ligne. "
        "Pour l’annuler, appelez la clinique au {phone}.",
        "no_online_cancel": "Ce type de rendez-vous ne peut pas être annulé en ligne. "
        "Pour l’annuler, appelez la clinique au {phone}.",
        "bad_link_title": "Ce lien ne fonctionne pas",
        "bad_link": "Ce lien n’est pas valide ou n’est plus valide. Les liens cessent de fonctionner au début "
        "du rendez-vous. Pour toute question, communiquez avec votre clinique.",
        "too_many_title": "Trop de tentatives",
        "too_many": "Veuillez patienter une minute avant de réessayer.",
        "expired_title": "Cette page a expiré",
        "expired": "Le formulaire n’a pas pu être envoyé\u00a0: la page était ouverte depuis trop longtemps, "
        "ou votre navigateur a refusé un témoin (cookie). Revenez en arrière, rechargez la page, puis réessayez.",
        "switch": "English",
        "switch_lang": "en",
    },
    "en": {
        "title_cancel": "Cancel your appointment",
        "title_confirm": "Confirm your appointment",
        "date": "Date and time",
        "professional": "Professional",
        "type": "Type",
        "clinic": "Clinic",
        "cancel_button": "Cancel the appointment",
        "confirm_button": "Confirm the appointment",
        "cancel_question": "Do you want to cancel this appointment? The time slot will be freed for another patient.",
        "confirm_question": "Do you confirm that you will attend this appointment?",
        "cancelled": "Your appointment is cancelled. An email confirming the cancellation will be sent to you.",
        "already_cancelled": "This appointment is cancelled.",
        "confirmed": "Thank you! Your attendance is confirmed.",
        "cannot_confirm_cancelled": "This appointment was cancelled: it cannot be confirmed. "
        "To book a new appointment, call the clinic at {phone}.",
        "too_late": "This appointment can no longer be cancelled online. To cancel it, call the clinic at {phone}.",
        "no_online_cancel": "This type of appointment cannot be cancelled online. "
        "To cancel it, call the clinic at {phone}.",
        "bad_link_title": "This link does not work",
        "bad_link": "This link is not valid, or no longer valid. Links stop working when the appointment "
        "starts. For any question, contact your clinic.",
        "too_many_title": "Too many attempts",
        "too_many": "Please wait a minute before trying again.",
        "expired_title": "This page has expired",
        "expired": "The form could not be sent: the page was open for too long, or your browser refused a cookie. "
        "Go back, reload the page and try again.",
        "switch": "Français",
        "switch_lang": "fr",
    },
}

RATE = "20/m"  # per client IP, for every request alike: good and bad tokens cost the same

# What an unreachable or failing rate-limit cache raises: Redis's errors, and
# the socket errors of any other backend.
CACHE_ERRORS = (RedisError, OSError)

logger = logging.getLogger(__name__)


def patient_page(view):
    """What every patient page is: rate limited per client IP (good and bad
    tokens alike), never cached, GET/HEAD to look and POST to act, exempt
    from CSRF (see the module's docstring)."""
    return csrf_exempt(rate_limited(never_cache(require_http_methods(["GET", "HEAD", "POST"])(view))))


def rate_limited(view):
    """django-ratelimit's `ratelimit(group="patient-pages", key="ip",
    rate=RATE, block=True)`, except that it fails open: when the cache that
    holds the counts cannot be reached, the page is served unlimited and a
    warning is logged. A patient must be able to cancel while Redis is down;
    going without the limit until it is back is the lesser harm."""

    @wraps(view)
    def limited_view(request, *args, **kwargs):
        try:
            limited = is_ratelimited(request, group="patient-pages", key="ip", rate=RATE, increment=True)
        except CACHE_ERRORS as error:
            # No path, address or token: the log must not identify a patient.
            logger.warning(
                "Patient page served without its rate limit: the rate-limit cache failed (%s: %s)",
                type(error).__name__,
                error,
            )
            limited = False
        if limited:
            raise Ratelimited()  # RatelimitMiddleware answers with RATELIMIT_VIEW (429)
        return view(request, *args, **kwargs)

    return limited_view


def private(response):
    # The token is in the URL: never cache the page, never send it onward.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def page(request, template: str, language: str, context: dict, status: int = 200):
    texts = TEXTS[language]
    with translation.override(language):
        response = render(
            request, f"patient_pages/{template}.html", {"t": texts, "language": language, **context}, status=status
        )
    return private(response)


def refusal(request, name: str, language: str, status: int):
    """A page that only says why nothing was done: its title, then its text."""
    texts = TEXTS[language]
    return page(request, "refused", language, {"title": texts[f"{name}_title"], "text": texts[name]}, status)


def bad_link(request, language: str = "fr"):
    return refusal(request, "bad_link", language, status=404)


def too_many_requests(request, exception=None):
    return refusal(request, "too_many", _language(request, browser_language(request)), status=429)


def expired_form(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a form posted without its cookie or from another
    site (a page left open for hours, cookies refused) is refused in the
    language of the page that posted it, and nothing was done."""
    wanted = request.POST.get("lang")
    language = wanted if wanted in TEXTS else _language(request, browser_language(request))
    return refusal(request, "expired", language, status=403)


def _language(request, default: str) -> str:
    wanted = request.GET.get("lang")
    return wanted if wanted in TEXTS else default


def browser_language(request) -> str:
    """Without a valid link to say the patient's language: the browser's."""
    return "en" if translation.get_language_from_request(request).startswith("en") else "fr"


def _open(request, token: str, action: str):
    """The link's appointment and page language, or None for any bad link."""
    try:
        link = links.read(token, action)
    except links.BadLink:
        return None, _language(request, browser_language(request))
    language = _language(request, link.language)
    # One row by its unique public id: no ordering, and only the relations
    # the page shows (this query is most of a page's cost).
    appointment = next(
        iter(
            Appointment.objects.select_related("professional__clinic", "service")
            .filter(public_id=link.appointment, patient__public_id=link.patient)
            .order_by()[:1]
        ),
        None,
    )
    if appointment is None or appointment.start <= timezone.now():
        # D11: links stop working once the appointment has started; D13: a
        # former patient's links do not reach the new patient's appointment.
        return None, language
    return appointment, language


def details(appointment: Appointment, language: str) -> dict:
    clinic = appointment.professional.clinic
    phone = spoken_phone(clinic.phone.as_e164 if isinstance(clinic.phone, PhoneNumber) else "")
    return {
        "date": long_date(appointment.start, clinic.timezone, language),
        "professional": appointment.professional.full_name,
        "type": TYPE_LABELS[language].get(appointment.service.category, ""),
        "clinic": clinic,
        "phone": phone,
    }


def can_cancel_online(appointment: Appointment) -> bool:
    """R25, R8: until `cancellation_delay` before the start; never without a delay."""
    until = rules.cancel_online_until(appointment.start, appointment.service.cancellation_delay)
    return rules.may_cancel_online(until, timezone.now())


@patient_page
def cancel(request, token: str):
    appointment, language = _open(request, token, links.CANCEL)
    if appointment is None:
        return bad_link(request, language)
    if request.method == "POST":
        return _act(request, appointment, language, _cancel)
    return _cancel_page(request, appointment, language)


def _act(request, appointment: Appointment, language: str, change):
    """Applies the patient's `change` to the locked appointment, then shows
    the page again (a reload never posts twice)."""
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        change(locked)
    return redirect(f"{request.path}?lang={language}")


def _cancel(appointment: Appointment) -> None:
    if appointment.is_active and can_cancel_online(appointment):
        appointment.status = Appointment.Status.CANCELLED
        # Frees the slot (D2), plans the notice (D7).
        appointment.save(actor=PATIENT, said=event("cancelled_online"))  # R25


def _confirm(appointment: Appointment) -> None:
    if appointment.is_active and not appointment.is_confirmed:
        appointment.status = Appointment.Status.CONFIRMED_EMAIL  # R26
        appointment.save(update_fields=["status", "updated_at"], actor=PATIENT, said=event("confirmed_online"))


def _cancel_page(request, appointment: Appointment, language: str):
    info = details(appointment, language)
    texts = TEXTS[language]
    if not appointment.is_active:
        state, message = "done", texts["already_cancelled"]
        if appointment.history.filter(actor="patient", status=Appointment.Status.CANCELLED).exists():
            message = texts["cancelled"]
    elif appointment.service.cancellation_delay is None:
        state, message = "refused", texts["no_online_cancel"].format(phone=info["phone"])
    elif not can_cancel_online(appointment):
        state, message = "refused", texts["too_late"].format(phone=info["phone"])
    else:
        state, message = "ask", texts["cancel_question"]
    context = {**info, "state": state, "message": message, "action": "cancel", "title": texts["title_cancel"]}
    return page(request, "appointment", language, context)


@patient_page
def confirm(request, token: str):
    appointment, language = _open(request, token, links.CONFIRM)
    if appointment is None:
        return bad_link(request, language)
    if request.method == "POST":
        return _act(request, appointment, language, _confirm)
    info = details(appointment, language)
    texts = TEXTS[language]
    if not appointment.is_active:
        state, message = "refused", texts["cannot_confirm_cancelled"].format(phone=info["phone"])
    elif appointment.is_confirmed:
        state, message = "done", texts["confirmed"]
    else:
        state, message = "ask", texts["confirm_question"]
    context = {**info, "state": state, "message": message, "action": "confirm", "title": texts["title_confirm"]}
    return page(request, "appointment", language, context)
