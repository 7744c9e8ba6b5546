"""The page a locked-out login gets (django-axes): what happened, for how
long, and who can help, in the reader's language; never which of the
account or the address is locked."""

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse

from hubsite.client_ip import NO_ADDRESS


def locked_out(request, response=None, credentials=None):
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    context = {**admin.site.each_context(request), "title": admin.site.site_header, "cooloff_minutes": minutes}
    return TemplateResponse(request, "admin/locked_out.html", context, status=429).render()


def lockout_parameters(request_or_attempt, credentials=None) -> list[str]:
    """Per account, and per address when the Hub knows it: behind a unix
    socket without TRUSTED_PROXIES every client reads as one address, and
    locking that one would lock everybody out."""
    address = getattr(request_or_attempt, "axes_ip_address", None) or getattr(request_or_attempt, "ip_address", None)
    if not address or address == NO_ADDRESS:
        return ["username"]
    return ["username", "ip_address"]
