"""Error reporting to Sentry (optional: SENTRY_DSN), with no patient data.

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
