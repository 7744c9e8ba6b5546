from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfirmationsConfig(AppConfig):
    name = "confirmations"
    verbose_name = _("Communications")

    def ready(self) -> None:
        from confirmations import planning  # noqa: F401 -- connects the planning signals
        from hubsite import checks  # noqa: F401 -- registers the Hub's system checks
