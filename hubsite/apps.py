from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HubsiteConfig(AppConfig):
    """The site itself: settings, URLs, health, the daily retention task."""

    name = "hubsite"
    verbose_name = _("The Hub")

    def ready(self) -> None:
        # Imported once the apps are loaded, as Django requires of models.
        from hubsite import checks  # noqa: F401 -- registers the Hub's system checks
