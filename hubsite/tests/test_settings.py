"""Settings relations and environment switches (issue 2)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings


def settings_in_fresh_process(code: str, **env: str) -> subprocess.CompletedProcess:
    """Imports the settings in a new interpreter, with exactly this environment."""
    ours = {
        "SECRET_KEY",
        "DEBUG",
        "REDIS_URL",
        "DATABASE_URL",
        "EMAIL_BACKEND",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "DATABASE_PGBOUNCER",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_TLS",
        "EMAIL_USE_SSL",
        "EMAIL_TIMEOUT",
    }
    clean = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("TWILIO_")}
    return subprocess.run(
        [sys.executable, "-c", f"import hubsite.settings as s; {code}"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )


class TestTaskQueue:
    def test_a_task_times_out_before_it_is_offered_to_another_worker(self):
        assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]

    def test_attempts_are_finite(self):
        assert 0 < settings.Q_CLUSTER["max_attempts"] <= 10

    def test_missed_schedules_do_not_pile_up(self):
        assert settings.Q_CLUSTER["catch_up"] is False

    def test_it_uses_the_orm_broker_by_default(self):
        result = settings_in_fresh_process("print(s.Q_CLUSTER.get('orm'), 'redis' in s.Q_CLUSTER)", DEBUG="1")
        assert result.stdout.split() == ["default", "False"]

    def test_it_uses_redis_when_redis_url_is_set(self):
        result = settings_in_fresh_process(
            "print(s.Q_CLUSTER.get('redis'), 'orm' in s.Q_CLUSTER)", DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/3"
        )
        assert result.stdout.split() == ["redis://127.0.0.1:6379/3", "False"]


class TestSecretKey:
    def test_it_refuses_to_start_without_a_key_when_debug_is_off(self):
        result = settings_in_fresh_process("print(s.SECRET_KEY)")
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr

    def test_it_uses_a_development_key_only_in_debug(self):
        result = settings_in_fresh_process("print(s.SECRET_KEY.startswith('dev-only'))", DEBUG="1")
        assert result.stdout.strip() == "True"

    def test_it_takes_the_key_from_the_environment(self):
        result = settings_in_fresh_process("print(s.SECRET_KEY)", SECRET_KEY="from-the-environment")
        assert result.stdout.strip() == "from-the-environment"


class TestProviders:
    def test_production_refuses_to_pretend_to_send(self):
        result = settings_in_fresh_process("print(1)", SECRET_KEY="k", HUB_LOCAL_CHANNELS="0")
        assert result.returncode != 0
        assert "EMAIL_BACKEND" in result.stderr and "TWILIO_ACCOUNT_SID" in result.stderr

    @pytest.mark.parametrize("backend", ["django.core.mail.backends.console.EmailBackend", ""])
    def test_a_mail_backend_that_keeps_mail_here_switches_email_off_in_production(self, backend):
        result = settings_in_fresh_process(
            "print(s.HUB_CHANNELS['email'], s.HUB_CHANNELS['sms'])", SECRET_KEY="k", HUB_LOCAL_CHANNELS="0",
            EMAIL_BACKEND=backend, TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t", TWILIO_FROM_NUMBER="+15145550199",
        )  # fmt: skip
        assert result.stdout.split() == ["None", "outbox.channels.TwilioSMS"], result.stderr

    def test_an_email_only_hub_is_a_valid_production_configuration(self):
        result = settings_in_fresh_process(
            "print(s.HUB_CHANNELS['email'], s.HUB_CHANNELS['sms'], s.HUB_CHANNELS['voice'])",
            SECRET_KEY="k", HUB_LOCAL_CHANNELS="0", EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        )  # fmt: skip
        assert result.stdout.split() == ["outbox.channels.Email", "None", "None"], result.stderr

    def test_twilio_without_a_sender_number_is_refused(self):
        result = settings_in_fresh_process(
            "print(1)", SECRET_KEY="k", HUB_LOCAL_CHANNELS="0", TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t"
        )
        assert result.returncode != 0 and "TWILIO_FROM_NUMBER" in result.stderr

    def test_an_smtp_server_from_the_email_host_family(self):
        result = settings_in_fresh_process(
            "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, "
            "s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.EMAIL_TIMEOUT, s.HUB_CHANNELS['email'])",
            SECRET_KEY="k", HUB_LOCAL_CHANNELS="0", EMAIL_HOST="smtp.clinique.example", EMAIL_PORT="587",
            EMAIL_HOST_USER="hub", EMAIL_HOST_PASSWORD="secret", EMAIL_USE_TLS="1", EMAIL_TIMEOUT="15",
        )  # fmt: skip
        assert result.stdout.split() == [
            "outbox.smtp.EmailBackend", "smtp.clinique.example", "587", "hub", "secret", "True", "False", "15",
            "outbox.channels.Email",
        ], result.stderr  # fmt: skip

    def test_production_with_providers_sends_for_real(self):
        result = settings_in_fresh_process(
            "print(s.HUB_CHANNELS['sms'], s.EMAIL_BACKEND)",
            SECRET_KEY="k",
            HUB_LOCAL_CHANNELS="0",
            EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
            TWILIO_ACCOUNT_SID="AC1",
            TWILIO_AUTH_TOKEN="t",
            TWILIO_FROM_NUMBER="+15145550199",
        )
        assert result.stdout.split() == ["outbox.channels.TwilioSMS", "anymail.backends.postmark.EmailBackend"]


class TestDatabase:
    def test_sqlite_is_the_embedded_default(self):
        result = settings_in_fresh_process("print(s.DATABASES['default']['ENGINE'])", DEBUG="1")
        assert result.stdout.strip() == "django.db.backends.sqlite3"

    def test_database_url_selects_postgresql(self):
        result = settings_in_fresh_process(
            "d = s.DATABASES['default']; print(d['ENGINE'], d['NAME'], d['HOST'])",
            DEBUG="1",
            DATABASE_URL="postgres://hub@db.internal:5432/hub",
        )
        assert result.stdout.split() == ["django.db.backends.postgresql", "hub", "db.internal"]


class TestLanguagesAndTime:
    def test_french_is_the_default_and_english_is_available(self):
        assert settings.LANGUAGE_CODE == "fr"
        assert {code for code, _name in settings.LANGUAGES} == {"fr", "en"}

    def test_times_are_time_zone_aware(self):
        assert settings.USE_TZ is True


class TestPreparedStatements:
    """Prepared on PostgreSQL, except behind PgBouncer in transaction mode,
    where the next transaction may run on a server connection that never
    saw the statement."""

    PG = "postgres://postgres@127.0.0.1:5432/hub"
    SHOW = (
        "o = s.DATABASES['default'].get('OPTIONS', {}); print(o.get('server_side_binding'), o.get('prepare_threshold'))"
    )

    def test_postgresql_prepares_repeated_statements(self):
        assert settings_in_fresh_process(self.SHOW, DEBUG="1", DATABASE_URL=self.PG).stdout.split() == ["True", "5"]

    def test_not_behind_pgbouncer(self):
        result = settings_in_fresh_process(self.SHOW, DEBUG="1", DATABASE_URL=self.PG, DATABASE_PGBOUNCER="1")
        assert result.stdout.split() == ["None", "None"]
        result = settings_in_fresh_process(
            "print(s.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])",
            DEBUG="1",
            DATABASE_URL=self.PG,
            DATABASE_PGBOUNCER="1",
        )
        assert result.stdout.strip() == "True"


class TestRefusedSettings:
    @pytest.mark.parametrize(
        ("env", "named"),
        [
            ({"TWILIO_ACCOUNT_SID": "AC1", "EMAIL_HOST": "smtp.example"}, "TWILIO_AUTH_TOKEN"),
            ({"EMAIL_HOST": "smtp.example", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "EMAIL_USE_SSL"),
            ({"EMAIL_BACKEND": "anymail.backends.test.EmailBackend"}, "EMAIL_HOST"),  # keeps mail here: no channel
        ],
    )
    def test_a_half_configuration_is_refused_with_its_name(self, env, named):
        result = settings_in_fresh_process("print(1)", SECRET_KEY="k", HUB_LOCAL_CHANNELS="0", **env)
        assert result.returncode != 0 and named in result.stderr
