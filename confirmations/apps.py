from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfirmationsConfig(AppConfig):
    name = "confirmations"
    verbose_name = _("Communications")

    def ready(self) -> None:
        from confirmations import planning  # noqa: F401 -- connects the planning signals
        from confirmations.worker import install
        from hubsite import checks  # noqa: F401 -- registers the Hub's system checks

        # The worker (manage.py qcluster) finishes the send in flight and exits
        # cleanly on SIGTERM to any of its processes (confirmations/worker.py).
        install()
