"""The patient pages' rate limit when its surroundings fail: the cache it
counts in is unreachable, the WSGI server gives no client address, or a
production Hub counts per process. A patient must still be able to cancel."""

import logging
import os
import socket
import uuid

import pytest
import redis
from django.core import checks
from django.test import override_settings

from confirmations import links
from confirmations.tests import test_patient_pages as pages
from confirmations.tests.test_patient_pages import path, status_of
from hubsite.checks import rate_limit_cache_is_shared

# The patient pages' own fixtures: an appointment five days ahead, booked then.
clock, appointment = pages.clock, pages.appointment

REDIS = "redis://127.0.0.1:6379"
REDIS_TEST_DB = 14  # never the Hub's own (0), nor test_settings' (3)
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_cache(location: str, prefix: str) -> dict:
    options = {"socket_connect_timeout": 2, "socket_timeout": 2}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": options,
        }
    }


@pytest.fixture
def unreachable_redis(settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/0", "hub-test-unreachable")


@pytest.fixture
def working_redis(settings):
    """The Hub's Redis, on a database and key prefix of this test's own; its
    keys are deleted afterwards (never FLUSHDB: the database may be shared)."""
    server = redis.Redis.from_url(f"{REDIS}/{REDIS_TEST_DB}", socket_connect_timeout=2)
    try:
        server.ping()
    except redis.RedisError as error:
        if os.environ.get("HUB_REQUIRE_REDIS"):
            pytest.fail(f"Redis is not reachable at {REDIS}: {error}")
        pytest.skip(f"needs Redis at {REDIS} ({error})")
    prefix = f"hub-test-{uuid.uuid4().hex}"
    settings.CACHES = redis_cache(f"{REDIS}/{REDIS_TEST_DB}", prefix)
    yield lambda: list(server.scan_iter(f"{prefix}:*"))
    for key in server.scan_iter(f"{prefix}:*"):
        server.delete(key)
    server.close()


class TestAnUnreachableRateLimitCache:
    """Fails open: the page works, and the log says why it was not limited."""

    @pytest.mark.parametrize("action", [links.CANCEL, links.CONFIRM])
    def test_it_still_shows_the_patient_pages(self, client, appointment, unreachable_redis, action):
        response = client.get(path(appointment, action))
        assert response.status_code == 200
        assert "<button" in response.content.decode()

    def test_it_still_lets_the_patient_cancel(self, client, appointment, unreachable_redis):
        response = client.post(path(appointment, links.CANCEL))
        assert response.status_code == 302
        assert status_of(appointment) == "cancelled"
        assert client.get(response["Location"]).status_code == 200

    def test_it_logs_a_warning_without_patient_data(self, client, appointment, unreachable_redis, caplog):
        link = path(appointment, links.CANCEL)
        with caplog.at_level(logging.WARNING, logger="confirmations.patient_pages"):
            client.get(link, REMOTE_ADDR="203.0.113.7")
        warnings = [r for r in caplog.records if r.name == "confirmations.patient_pages" and r.levelname == "WARNING"]
        assert len(warnings) == 1
        text = warnings[0].getMessage() + (warnings[0].exc_text or "")
        assert "rate limit" in text.lower()
        token = link.split("/")[-2]
        patient = appointment.patient
        identifiers = (token, link, str(appointment.public_id), str(patient.public_id), "203.0.113.7")
        for private in (*identifiers, patient.first_name, patient.last_name, patient.email):
            assert private not in text


class TestAWorkingRedis:
    def test_it_still_limits_a_client_to_20_pages_a_minute(self, client, appointment, working_redis):
        link = path(appointment, links.CANCEL)
        answers = [client.get(link, REMOTE_ADDR="203.0.113.7").status_code for _ in range(21)]
        assert answers == [200] * 20 + [429]
        assert working_redis()  # the count is in Redis, not in this process
        too_many = client.post(link, REMOTE_ADDR="203.0.113.7")
        assert too_many.status_code == 429 and "Trop de tentatives" in too_many.content.decode()
        assert status_of(appointment) == "booked"
        assert client.get(link, REMOTE_ADDR="203.0.113.8").status_code == 200


class TestNoClientAddress:
    """A WSGI server on a unix socket gives an empty REMOTE_ADDR."""

    def test_it_answers_a_request_without_a_client_address(self, client, appointment):
        assert client.get(path(appointment, links.CANCEL), REMOTE_ADDR="").status_code == 200
        assert client.post(path(appointment, links.CANCEL), REMOTE_ADDR="").status_code == 302
        assert status_of(appointment) == "cancelled"

    def test_it_counts_requests_without_a_client_address_together(self, client, appointment):
        link = path(appointment, links.CANCEL)
        answers = [client.get(link, REMOTE_ADDR="").status_code for _ in range(21)]
        assert answers == [200] * 20 + [429]
        assert client.get(link, REMOTE_ADDR="203.0.113.8").status_code == 200

    def test_it_counts_a_missing_or_unusable_forwarded_address_as_no_address(self, client, appointment, settings):
        settings.TRUSTED_PROXIES = 1
        link = path(appointment, links.CANCEL)
        for _ in range(20):
            client.get(link, REMOTE_ADDR="")
        assert client.get(link, REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="not-an-address").status_code == 429
        assert client.get(link, REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200

    @pytest.mark.parametrize("forwarded", ["203.0.113.9:5678", "[2001:db8::9]:5678"])
    def test_it_reads_a_forwarded_address_written_with_its_port(self, client, appointment, settings, forwarded):
        settings.TRUSTED_PROXIES = 1
        link = path(appointment, links.CANCEL)
        for _ in range(20):
            client.get(link, REMOTE_ADDR="")  # the address-less bucket is full
        assert client.get(link, REMOTE_ADDR="", HTTP_X_FORWARDED_FOR=forwarded).status_code == 200


class TestPerProcessCountsInProduction:
    """hub.W001: without REDIS_URL each web process counts on its own."""

    def test_it_warns_when_production_counts_in_process_memory(self):
        with override_settings(DEBUG=False, CACHES=LOCMEM):
            found = rate_limit_cache_is_shared(None)
        assert [(type(w), w.id) for w in found] == [(checks.Warning, "hub.W001")]
        assert "per process" in found[0].msg and "REDIS_URL" in found[0].hint

    def test_it_does_not_warn_with_redis(self):
        with override_settings(DEBUG=False, CACHES=redis_cache(f"{REDIS}/0", "hub")):
            assert rate_limit_cache_is_shared(None) == []

    def test_it_does_not_warn_in_development(self):
        with override_settings(DEBUG=True, CACHES=LOCMEM):
            assert rate_limit_cache_is_shared(None) == []

    def test_it_is_one_of_the_deployment_checks(self):
        with override_settings(DEBUG=False, CACHES=LOCMEM):
            everyday = checks.run_checks(tags=[checks.Tags.caches])
            deployment = checks.run_checks(tags=[checks.Tags.caches], include_deployment_checks=True)
        assert "hub.W001" not in [w.id for w in everyday]
        assert "hub.W001" in [w.id for w in deployment]
