from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseForbidden
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def email_tracking_refused(request, *args, **kwargs):
    # anymail accepts unauthenticated tracking events when no secret is set;
    # the Hub refuses them instead.
    return HttpResponseForbidden("email tracking needs ANYMAIL_WEBHOOK_SECRET")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("confirmations.urls")),
]

if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    urlpatterns.append(path("anymail/", include("anymail.urls")))
else:
    urlpatterns.append(re_path(r"^anymail/", email_tracking_refused))

if settings.DEBUG:
    urlpatterns.append(path("dev/", include("confirmations.dev_urls")))
