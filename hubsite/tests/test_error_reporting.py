"""Errors reach Sentry without patient data; logs can be JSON (issue 12)."""

import json

import pytest
import sentry_sdk
from django.urls import path
from sentry_sdk.transport import Transport

from hubsite.errors import scrub
from hubsite.tests.test_settings import settings_in_fresh_process

pytestmark = pytest.mark.django_db


class Captured(Transport):
    """Sentry's own client, stopped at its transport: what would leave."""

    envelopes: list = []

    def capture_envelope(self, envelope):
        Captured.envelopes.append(envelope)


def failing_view(request, token):
    raise ValueError(f"duplicate key (email)=(zoe.quintal@example.com) for Zoé Quintal, +15145550204, {token}")


urlpatterns = [path("rendez-vous/annuler/<str:token>/", failing_view)]


@pytest.fixture
def reporting(settings):
    from hubsite.errors import start

    settings.ROOT_URLCONF = __name__
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    Captured.envelopes = []
    start("https://public@o0.ingest.sentry.io/1", "test")
    sentry_sdk.get_client().transport = Captured(sentry_sdk.get_client().options)
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # a client that sends nothing, for the tests that follow


def test_an_error_is_reported_with_its_place_and_no_patient_data(client, reporting):
    client.raise_request_exception = False
    client.get("/rendez-vous/annuler/secret-link-token/?lang=fr", HTTP_COOKIE="sessionid=abc")
    sentry_sdk.flush()
    sent = "".join(item.payload.get_bytes().decode() for envelope in Captured.envelopes for item in envelope.items)
    assert "ValueError" in sent and "failing_view" in sent  # where it failed
    for private in ("zoe", "Quintal", "5550204", "secret-link-token", "sessionid", "lang=fr"):
        assert private not in sent


def test_scrub_keeps_the_type_and_the_stack_only():
    event = {
        "exception": {"values": [{"type": "IntegrityError", "value": "Key (email)=(a@b.c)", "stacktrace": {
            "frames": [{"function": "save", "lineno": 3, "vars": {"patient": "Jean"}, "context_line": "x = 'Jean'"}]
        }}]},
        "request": {"method": "POST", "url": "https://hub/rendez-vous/annuler/tok/", "data": {"a": 1}},
        "user": {"email": "a@b.c"},
        "breadcrumbs": {"values": [{"message": "Jean"}]},
        "contexts": {"runtime": {"name": "CPython"}, "response": {"body": "Jean"}},
    }  # fmt: skip
    scrubbed = scrub(event)
    assert "Jean" not in json.dumps(scrubbed) and "a@b.c" not in json.dumps(scrubbed)
    assert scrubbed["exception"]["values"][0]["type"] == "IntegrityError"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] == "save"
    assert scrubbed["request"] == {"method": "POST"} and scrubbed["contexts"] == {"runtime": {"name": "CPython"}}


def test_json_logs_on_request():
    code = "import logging.config; logging.config.dictConfig(s.LOGGING); logging.getLogger('hub').warning('hello')"
    result = settings_in_fresh_process(code, DEBUG="1", LOG_FORMAT="json")
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["levelname"], line["name"], line["message"]) == ("WARNING", "hub", "hello")
