"""Password guessing (django-axes), in two locks that never shut a whole
clinic out: clinics sit behind one public address, so one person's typos
must not lock their colleagues.

- An account from one address: AXES_FAILURE_LIMIT wrong passwords lock
  that account, from that address, for AXES_COOLOFF_TIME after the last one
  (django-axes itself, AXES_LOCKOUT_PARAMETERS below).
- An account from anywhere: HUB_LOGIN_ACCOUNT_FAILURE_LIMIT wrong passwords
  within HUB_LOGIN_ACCOUNT_WINDOW, from any addresses, lock the account
  everywhere (someone guessing from many addresses), counted in django-axes'
  failure log since the account's last successful login; everywhere but
  the addresses it logged in from in the last HUB_LOGIN_KNOWN_ADDRESS_DAYS,
  so that an outsider who knows a login name cannot shut its owner out.

Never every account of an address. Support's `axes_reset_*` commands lift
both. The page says until when, in the reader's language and the clinic's
time, and who can help; never which lock it is.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.db.models import Max, Q, Sum
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from history.dates import clock, reader_language, staff_moment
from hubsite.client_ip import NO_ADDRESS
from schedules.models import Clinic


def lockout_parameters(request_or_attempt, credentials=None) -> list:
    """The account from one address, counted together; the account alone
    when the Hub does not know the address (behind a unix socket without
    TRUSTED_PROXIES every client reads as one address)."""
    address = getattr(request_or_attempt, "axes_ip_address", None) or getattr(request_or_attempt, "ip_address", None)
    if not address or address == NO_ADDRESS:
        return ["username"]
    return [["username", "ip_address"]]


class AccountWideHandler(AxesDatabaseHandler):
    """django-axes' own lock of an account from one address, plus the
    account locked everywhere after many wrong passwords from anywhere."""

    def is_locked(self, request, credentials=None) -> bool:
        if super().is_locked(request, credentials):
            return True
        username = get_client_username(request, credentials)
        if known_address(username, getattr(request, "axes_ip_address", None)):
            return False
        return account_locked_until(username) is not None

    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False) -> int:
        """`axes_reset_username` and the other reset commands lift the
        account-wide lock too: its failures go with the account's attempts."""
        count = super().reset_attempts(ip_address=ip_address, username=username, ip_or_username=ip_or_username)
        failures = AccessFailureLog.objects.all()
        if ip_or_username:
            failures = failures.filter(Q(ip_address=ip_address) | Q(username=username))
        else:
            if ip_address:
                failures = failures.filter(ip_address=ip_address)
            if username:
                failures = failures.filter(username=username)
        failures.delete()
        return count


def known_address(username: str | None, address: str | None) -> bool:
    """Has the account logged in from this address lately?"""
    if not username or not address or address == NO_ADDRESS:
        return False
    since = timezone.now() - timedelta(days=settings.HUB_LOGIN_KNOWN_ADDRESS_DAYS)
    return AccessLog.objects.filter(username=username, ip_address=address, attempt_time__gte=since).exists()


# How long login records are kept (Law 25: no longer than needed): failures
# serve the locks and a month of investigation; logins, the known addresses
# and a year of "who logged in when".
FAILURES_KEPT = timedelta(days=30)
LOGINS_KEPT = timedelta(days=365)


def forget_old_attempts() -> tuple[int, int]:
    """The daily retention task's part for logins: (failures, logins) erased."""
    now = timezone.now()
    failures, _ = AccessFailureLog.objects.filter(attempt_time__lt=now - FAILURES_KEPT).delete()
    logins, _ = AccessLog.objects.filter(attempt_time__lt=now - LOGINS_KEPT).delete()
    return failures, logins


def account_locked_until(username: str | None) -> datetime | None:
    """When the account-wide lock lifts (the moment fewer than the limit of
    its wrong passwords remain in the window), or None when not locked."""
    if not username:
        return None
    limit, window = settings.HUB_LOGIN_ACCOUNT_FAILURE_LIMIT, settings.HUB_LOGIN_ACCOUNT_WINDOW
    since = timezone.now() - window
    last_login = AccessLog.objects.filter(username=username).order_by("-attempt_time")
    last_login = last_login.values_list("attempt_time", flat=True).first()
    if last_login is not None and last_login > since:
        since = last_login
    failures = list(
        AccessFailureLog.objects.filter(username=username, attempt_time__gt=since)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)[:limit]
    )
    if len(failures) < limit:
        return None
    return failures[-1] + window


def pair_locked_until(username: str | None, address: str | None) -> datetime | None:
    """When the lock of the account from this address lifts (the cool-off
    after its latest wrong password), or None when it is not locked."""
    attempts = AccessAttempt.objects.filter(username=username)
    if address and address != NO_ADDRESS:
        attempts = attempts.filter(ip_address=address)
    counted = attempts.aggregate(failures=Sum("failures_since_start"), latest=Max("attempt_time"))
    if (counted["failures"] or 0) < settings.AXES_FAILURE_LIMIT:
        return None
    return counted["latest"] + settings.AXES_COOLOFF_TIME


def clinic_zone(username: str | None) -> str:
    """The time zone of the account's clinic (the clinic's own clock), else
    the Hub's; as the admin's own pages choose it (ClinicTimeZoneMiddleware)."""
    zones = list(
        Clinic.objects.filter(staff__username=username).order_by().values_list("timezone", flat=True).distinct()[:2]
    )
    return zones[0] if len(zones) == 1 else settings.TIME_ZONE


def until_text(until: datetime, zone: str, language: str) -> str:
    """ "…until 2:45 PM today." / "…until December 4, 2026 at 2:45 PM.", in the clinic's time."""
    local = until.astimezone(ZoneInfo(zone))
    if local.date() == timezone.now().astimezone(ZoneInfo(zone)).date():
        return _("Logging in to this account is blocked until %(time)s today.") % {"time": clock(local, language)}
    return _("Logging in to this account is blocked until %(moment)s.") % {
        "moment": staff_moment(until, zone, language)
    }


def locked_out(request, response=None, credentials=None):
    username = get_client_username(request, credentials)
    address = getattr(request, "axes_ip_address", None)
    ends = [
        moment
        for moment in (
            pair_locked_until(username, address),
            None if known_address(username, address) else account_locked_until(username),
        )
        if moment is not None
    ]
    until = max(ends) if ends else timezone.now() + settings.AXES_COOLOFF_TIME
    context = {
        **admin.site.each_context(request),
        "title": _("Logging in is blocked for now"),
        "until": until_text(until, clinic_zone(username), reader_language()),
    }
    return TemplateResponse(request, "admin/locked_out.html", context, status=429).render()
