"""Errors: the 500 page people see, and error reporting to Sentry
(optional: SENTRY_DSN), with no patient data.

What reaches Sentry is where the Hub failed, never about whom: the
exception's type and stack (file, function, line: no local variables), the
request's method and view, the release and environment. Removed before
sending: exception messages (an IntegrityError quotes the row's values),
URLs and query strings (a patient page's URL carries its link's token),
headers, cookies, bodies, user details, log messages and breadcrumbs.
"""

KEPT_CONTEXTS = {"runtime", "os", "trace"}


def scrub(event: dict, hint: dict | None = None) -> dict:
    for exception in (event.get("exception") or {}).get("values") or []:
        exception.pop("value", None)
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            for name in ("vars", "pre_context", "context_line", "post_context"):
                frame.pop(name, None)
    request = event.get("request")
    if request:
        event["request"] = {"method": request.get("method")}
    for name in ("user", "breadcrumbs", "extra", "logentry", "message", "server_name"):
        event.pop(name, None)
    if "contexts" in event:
        event["contexts"] = {key: value for key, value in event["contexts"].items() if key in KEPT_CONTEXTS}
    return event


def start(dsn: str, environment: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        include_local_variables=False,
        include_source_context=False,
        max_breadcrumbs=0,
        traces_sample_rate=0,
        before_send=scrub,
        before_send_transaction=lambda event, hint: None,
    )


FALLBACK_500 = (
    '<!DOCTYPE html><html lang="fr-CA"><head><meta charset="utf-8"><title>Une erreur est survenue</title></head>'
    "<body><h1>Une erreur est survenue</h1><p>Réessayez dans quelques minutes.</p>"
    '<h1 lang="en">Something went wrong</h1><p lang="en">Try again in a few minutes.</p></body></html>'
)


def server_error(request):
    """The 500 page in the visitor's language (the language cookie, else the
    browser's), drawn from the request alone: what failed may be the
    database or the session, which a context processor would read."""
    from django.http import HttpResponseServerError
    from django.template import loader
    from django.utils import translation

    language = translation.get_language_from_request(request)
    try:
        with translation.override(language):
            return HttpResponseServerError(loader.get_template("500.html").render())
    except Exception:
        return HttpResponseServerError(FALLBACK_500)  # even the template failed: both languages, plainly
