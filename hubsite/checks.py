"""The Hub's own system checks (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks

# Caches that live in one process's memory: each web process counts alone.
PER_PROCESS_CACHES = {"django.core.cache.backends.locmem.LocMemCache"}


@checks.register(checks.Tags.caches, deploy=True)
def rate_limit_cache_is_shared(app_configs, **kwargs):
    """hub.W001: the patient pages' rate limit must count in a cache that
    every web process shares (Redis, with REDIS_URL); in process memory, a
    Hub with N processes allows N times the limit, and a restart resets it."""
    if settings.DEBUG:
        return []
    name = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(name, {}).get("BACKEND", "")
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        checks.Warning(
            f"The patient pages' rate-limit counts are per process: the {name!r} cache is {backend}, "
            "so each web process counts on its own and allows the whole limit.",
            hint="Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) so every web process shares the counts.",
            id="hub.W001",
        )
    ]
