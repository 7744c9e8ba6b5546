from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseForbidden, JsonResponse
from django.urls import include, path, re_path, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView

from hubsite.health import examine


@csrf_exempt
def email_tracking(request, rest: str):
    """anymail's tracking webhooks, only with a shared secret: anymail alone
    would accept unauthenticated events when none is set."""
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return HttpResponseForbidden("email tracking needs ANYMAIL_WEBHOOK_SECRET")
    match = resolve(f"/{rest}", urlconf="anymail.urls")
    return match.func(request, *match.args, **match.kwargs)


@never_cache
def health(request):
    """200 when every check passes, else 503 (hubsite/health.py); with
    ?scope=web, only what serving pages needs (for a load balancer)."""
    report = examine(web_only=request.GET.get("scope") == "web")
    return JsonResponse(report.as_dict(), status=200 if report.ok else 503)


# The Hub's own 500 page, in the visitor's language (hubsite/errors.py); the
# 404 is Django's handler with templates/404.html.
handler500 = "hubsite.errors.server_error"

urlpatterns = [
    path("health/", health),
    # Messages, replies and opt-outs were listed under "confirmations" before
    # the outbox became an app of its own: staff's bookmarks still lead there.
    re_path(
        r"^admin/confirmations/(?P<rest>(?:message|reply|optout)/.*)$",
        RedirectView.as_view(url="/admin/outbox/%(rest)s", query_string=True, permanent=True),
    ),
    path("admin/", admin.site.urls),
    path("", include("outbox.urls")),
    path("", include("confirmations.urls")),
    path("", include("booking.urls")),
]

urlpatterns.append(re_path(r"^anymail/(?P<rest>.*)$", email_tracking))

# The local message page answers only in DEBUG (outbox/local_outbox.py).
urlpatterns.append(path("dev/", include("outbox.dev_urls")))
