"""Settings for the Hub.

Everything comes from the environment, with embedded defaults that let a
fresh clone run with no configuration at all: SQLite, django-q2's ORM broker,
email and SMS/voice shown locally instead of sent (docs/configuration.md).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

# A development key is acceptable only when DEBUG is on; a production Hub
# that forgot its key must refuse to start rather than sign links with a
# public one.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")

# The public base URL of the Hub, as patients and Twilio reach it. Links in
# messages are built on it, and Twilio signs webhooks over this exact URL,
# which may differ from what Django sees behind a TLS-terminating proxy.
HUB_PUBLIC_URL = os.environ.get("HUB_PUBLIC_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "hubsite.admin.HubAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # the form renderer below finds Django's widget templates here
    "phonenumber_field",
    "anymail",
    "django_q",
    "django_ratelimit",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "simple_history",
    "schedules",
    "patients",
    "outbox",
    "confirmations",
    "booking",
    "backoffice",
    "hubsite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "backoffice.clinic_time.ClinicTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last: it answers a locked-out login (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hubsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Widgets render through the templates above, so that templates/admin/widgets/
# can label the parts of a date and time (accessibility, WCAG 1.3.1).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

WSGI_APPLICATION = "hubsite.wsgi.application"

# Connections are kept between requests and tasks (opening one costs more
# than a booking), and checked before reuse so a restarted database is no
# error. Behind PgBouncer in transaction mode, set DATABASE_PGBOUNCER=1: no
# server-side cursors (they need one server session across statements).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "300")),
        conn_health_checks=True,
    )
}
if env_bool("DATABASE_PGBOUNCER"):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements the Hub runs again and again (a patient page's read, the
    # dispatcher's writes) are prepared on their connection after 5 runs:
    # PostgreSQL then skips planning them. Needs server-side parameters;
    # not behind PgBouncer in transaction mode (a statement prepared on one
    # server connection is unknown to the next).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file: wait for the
    # other's write lock instead of failing at once, and take the write lock
    # at the start of each transaction so that two writers cannot deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

# How a change wakes the worker for the messages it makes due now
# (outbox/waker.py): "notify" on PostgreSQL (NOTIFY in the change's
# transaction, LISTEN in the worker: no row written), "queue" elsewhere (a
# task row, or a Redis push), and behind PgBouncer in transaction mode,
# where LISTEN cannot work.
_notify_works = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("DATABASE_PGBOUNCER")
HUB_WAKE = os.environ.get("HUB_WAKE") or ("notify" if _notify_works else "queue")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Staff accounts ----------------------------------------------------------
# A password of 12 characters at least, not a common one, not all digits,
# not like the user's name or email.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A second step after the password, by authenticator app (backoffice/two_factor.py):
# required of every staff member and support unless DEBUG is on.
HUB_REQUIRE_TWO_FACTOR = env_bool("HUB_REQUIRE_TWO_FACTOR", default=not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("HUB_TWO_FACTOR_ISSUER", "Le Hub")
# Password guessing (django-axes, hubsite/lockout.py): after
# HUB_LOGIN_FAILURE_LIMIT wrong passwords for one account from one address,
# that account is refused from there for HUB_LOGIN_LOCKOUT_MINUTES after the
# last one; after HUB_LOGIN_ACCOUNT_FAILURE_LIMIT for one account from any
# addresses within HUB_LOGIN_ACCOUNT_WINDOW_HOURS, it is refused everywhere.
# Never every account of an address: a clinic's staff share one. Support can
# lift a lock early: manage.py axes_reset_username <name>.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "hubsite.lockout.AccountWideHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("HUB_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("HUB_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = "hubsite.lockout.lockout_parameters"  # the account from one address, together
HUB_LOGIN_ACCOUNT_FAILURE_LIMIT = int(os.environ.get("HUB_LOGIN_ACCOUNT_FAILURE_LIMIT", "20"))
HUB_LOGIN_ACCOUNT_WINDOW = timedelta(hours=int(os.environ.get("HUB_LOGIN_ACCOUNT_WINDOW_HOURS", "24")))
# The account-wide lock spares the addresses the account logged in from lately.
HUB_LOGIN_KNOWN_ADDRESS_DAYS = int(os.environ.get("HUB_LOGIN_KNOWN_ADDRESS_DAYS", "30"))
# Each wrong password on record, for the account-wide count.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# A try while locked does not push the lock's end further: the time the
# page gives holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "hubsite.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "hubsite.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# An idle session ends: HUB_IDLE_MINUTES after the last page, and when the
# browser closes. Each page seen starts the count again.
SESSION_COOKIE_AGE = 60 * int(os.environ.get("HUB_IDLE_MINUTES", "30"))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# The audit history (django-simple-history) records who changed what; it
# never restores an old version (that would bypass the Hub's rules).
SIMPLE_HISTORY_REVERT_DISABLED = True

# French first: the Hub serves Quebec clinics. English is always available.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
# One date style per language for tables, lists and forms (hubsite/formats/).
FORMAT_MODULE_PATH = ["hubsite.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True

# Stored instants are UTC; each clinic's own time zone (Clinic.timezone)
# is used wherever a time is shown to a patient or staff member.
TIME_ZONE = "America/Toronto"
USE_TZ = True

PHONENUMBER_DEFAULT_REGION = "CA"
PHONENUMBER_DB_FORMAT = "E164"

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Task queue (django-q2) ----------------------------------------------
# Redis when REDIS_URL is set, django-q2's ORM broker otherwise. A task may
# run for at most `timeout` seconds; it is offered to another worker only
# after `retry` seconds, so retry must exceed timeout or a slow task would
# run twice. Attempts are finite so a poisoned task cannot loop forever, and
# schedules missed while the worker was down run once, not once per missed
# minute (the dispatcher itself catches up on everything still relevant).
Q_CLUSTER = {
    "name": "hub",
    "workers": int(os.environ.get("HUB_WORKERS", "2")),
    "timeout": 60,
    "retry": 120,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tâches",
}
if os.environ.get("REDIS_URL"):
    Q_CLUSTER["redis"] = os.environ["REDIS_URL"]
else:
    Q_CLUSTER["orm"] = "default"

# --- Cache and rate limits ---------------------------------------------------
# The patient pages are rate limited per client IP (django-ratelimit), which
# needs a cache shared by every web process: Redis when REDIS_URL is set.
# Django's own RedisCache is shared and counts atomically, which is all the
# limits need; django-ratelimit 4.1 merely does not list it (its W001).
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # A Redis that hangs must not hang the patient pages: they fail
            # open (confirmations/patient_pages.py) once the cache errs.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # One process in development; with DEBUG off, the Hub's own check
    # (hub.W001, hubsite/checks.py) says to set REDIS_URL.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003"]
RATELIMIT_VIEW = "confirmations.patient_pages.too_many_requests"
# A form refused for its missing CSRF cookie says so in the page's language.
CSRF_FAILURE_VIEW = "confirmations.patient_pages.expired_form"
# Behind N proxies that each append to X-Forwarded-For, the client is the
# N-th address from the right (the left part can be forged by the client).
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
RATELIMIT_IP_META_KEY = "hubsite.client_ip.client_ip"

# --- Email (django-anymail) -----------------------------------------------
# EMAIL_BACKEND names any anymail backend, e.g.
# "anymail.backends.postmark.EmailBackend"; its credentials go in ANYMAIL
# through the ANYMAIL_* variables. The default prints mail to the console.
# An SMTP server is chosen by EMAIL_HOST alone (with EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD, EMAIL_USE_TLS or EMAIL_USE_SSL, EMAIL_TIMEOUT).
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
    # The same backend, told when the body was handed over (at most once, D15).
    EMAIL_BACKEND = "outbox.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
# Provider calls give up after this many seconds of silence (each network
# read or write): a hung provider must not hold a message past the worker's
# budget (tasks.py, 25 s) and task timeout (Q_CLUSTER below, 60 s). An SMTP
# server may scan a message before it answers DATA: it gets a little longer.
HUB_PROVIDER_TIMEOUT = int(os.environ.get("HUB_PROVIDER_TIMEOUT", "10"))
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))
# The dispatcher calls the providers for HUB_SEND_CONCURRENCY messages at a
# time (threads that only wait on the network; every database write stays
# in the dispatcher), and claims that many at once (HUB_SEND_BATCH may
# lower it): one wave per batch.
HUB_SEND_CONCURRENCY = int(os.environ.get("HUB_SEND_CONCURRENCY", "32"))
# What messages said and patients answered is erased after this many days
# (outbox/retention.py); kind, channel, state, times and who stay.
HUB_RETENTION_DAYS = int(os.environ.get("HUB_RETENTION_DAYS", "90"))
# Online booking (D20): upcoming online bookings one patient may hold, and
# how many one-time codes a client address and one email or mobile may ask for.
HUB_ONLINE_BOOKINGS_PER_PATIENT = int(os.environ.get("HUB_ONLINE_BOOKINGS_PER_PATIENT", "2"))
# ... and per verified email or mobile, whatever the names typed (a family shares one).
HUB_ONLINE_BOOKINGS_PER_CONTACT = int(os.environ.get("HUB_ONLINE_BOOKINGS_PER_CONTACT", "6"))
HUB_BOOKING_CODES_PER_ADDRESS = os.environ.get("HUB_BOOKING_CODES_PER_ADDRESS", "10/h")
HUB_BOOKING_CODES_PER_CONTACT = os.environ.get("HUB_BOOKING_CODES_PER_CONTACT", "3/h")
# The waiting list: how many patients a freed slot is offered to at once,
# and how long an offer stands (never past the service's online booking notice).
HUB_WAITLIST_OFFERS_AT_ONCE = int(os.environ.get("HUB_WAITLIST_OFFERS_AT_ONCE", "3"))
HUB_WAITLIST_OFFER_MINUTES = int(os.environ.get("HUB_WAITLIST_OFFER_MINUTES", "120"))
# The health check (hubsite/health.py) fails when a message due this many
# minutes ago is still waiting to be sent.
HUB_HEALTH_OVERDUE_MINUTES = int(os.environ.get("HUB_HEALTH_OVERDUE_MINUTES", "10"))
HUB_SEND_BATCH = int(os.environ.get("HUB_SEND_BATCH", "0"))  # 0: the concurrency
# A Hub that only pretends to send (console email, SMS and calls recorded
# locally) is for development and tests. In production it would mark
# messages "sent" that never left, and print patients' emails to the logs:
# without DEBUG it must be asked for by name.
LOCAL_CHANNELS = env_bool("HUB_LOCAL_CHANNELS", default=DEBUG)
# Django's backends that keep mail on this machine.
LOCAL_EMAIL_BACKENDS = {"console", "locmem", "dummy", "filebased", "test", ""}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Hub <hub@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = {
    "REQUESTS_TIMEOUT": HUB_PROVIDER_TIMEOUT,
    **{
        key.removeprefix("ANYMAIL_"): value for key, value in os.environ.items() if key.startswith("ANYMAIL_") and value
    },
}

# --- SMS and voice (Twilio) ----------------------------------------------
# Without an account SID and auth token, SMS and calls are recorded locally
# instead of sent.
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_CONFIGURED = bool(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)
EMAIL_CONFIGURED = EMAIL_BACKEND.rsplit(".", 2)[-2] not in LOCAL_EMAIL_BACKENDS if "." in EMAIL_BACKEND else False
if not LOCAL_CHANNELS:
    # Channels switch on one by one: email alone, or SMS and calls alone,
    # is a valid Hub; a contact by a channel it does not send by is skipped
    # for the next one (R19). Nothing is ever recorded as sent that did not leave.
    if bool(TWILIO_ACCOUNT_SID) != bool(TWILIO_AUTH_TOKEN):
        raise ImproperlyConfigured("Set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither.")
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS, port 587) or EMAIL_USE_SSL (port 465), not both.")
    if TWILIO_CONFIGURED and not (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID):
        raise ImproperlyConfigured("Set TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID) with the Twilio account.")
    if not (EMAIL_CONFIGURED or TWILIO_CONFIGURED):
        raise ImproperlyConfigured(
            "Set a way to send: EMAIL_HOST (an SMTP server) or EMAIL_BACKEND (an anymail provider), and/or "
            "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER (or HUB_LOCAL_CHANNELS=1 to only show "
            "messages locally, never in production)."
        )
# The webhooks check Twilio's signature with the auth token. Without Twilio,
# a development Hub signs its own simulated replies (the local message page)
# with this development token; a production Hub without a token refuses
# every webhook.
if not TWILIO_AUTH_TOKEN and DEBUG:
    TWILIO_AUTH_TOKEN = "dev-only-local-twilio-token"
# The Hub answers STOP/ARRET, START and HELP/AIDE/INFO texts itself, in
# French and English (confirmations/answers.py). Twilio's own opt-out
# handling answers in English only and blocks the Hub's answer to STOP:
# switch it off in the Messaging Service, or set HUB_SMS_ANSWERS=0 to let
# Twilio answer (the Hub still records opt-outs and cancellation requests).
HUB_SMS_ANSWERS = env_bool("HUB_SMS_ANSWERS", default=True)
# Text-to-speech: (language, voice) per message language (R24).
TWILIO_VOICES = {
    "fr": ("fr-CA", os.environ.get("TWILIO_VOICE_FR", "Polly.Chantal")),
    "en": ("en-CA", os.environ.get("TWILIO_VOICE_EN", "alice")),
}

# Which class sends each channel (outbox/channels.py): Twilio when it
# is configured; otherwise SMS and calls are recorded locally in development
# (HUB_LOCAL_CHANNELS), and off (None) in production.
LOCAL_OR_OFF = "outbox.channels.LocalRecorder" if LOCAL_CHANNELS else None
HUB_CHANNELS = {
    "email": "outbox.channels.Email" if EMAIL_CONFIGURED or LOCAL_CHANNELS else None,
    "sms": "outbox.channels.TwilioSMS" if TWILIO_CONFIGURED else LOCAL_OR_OFF,
    "voice": "outbox.channels.TwilioCall" if TWILIO_CONFIGURED else LOCAL_OR_OFF,
}

# --- Security --------------------------------------------------------------
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto only when told to.
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# A load balancer probes over plain HTTP: answered, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # LOG_FORMAT=json: one JSON object per line, for a log collector.
        "json": {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
# A patient page's path carries its link's token: Django's "Not Found:
# /rendez-vous/…" warnings would write it to the logs. Errors (500) only.
# django-axes logs every login at INFO; failures and lockouts (WARNING) stay.
LOGGING["loggers"] = {"django.request": {"level": "ERROR"}, "axes": {"level": "WARNING"}}
if os.environ.get("LOG_FORMAT") == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"

# Optional error reporting, without patient data (hubsite/errors.py).
if os.environ.get("SENTRY_DSN"):
    from hubsite.errors import start as start_error_reporting

    start_error_reporting(os.environ["SENTRY_DSN"], os.environ.get("SENTRY_ENVIRONMENT", "production"))
