from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfirmationsConfig(AppConfig):
    name = "confirmations"
    verbose_name = _("Communications")

    def ready(self) -> None:
        from confirmations import rules  # planning connects the planning signals
        from confirmations.models import Message
        from confirmations.worker import install
        from history import events
        from hubsite import checks  # noqa: F401 -- registers the Hub's system checks

        # The worker (manage.py qcluster) finishes the send in flight and exits
        # cleanly on SIGTERM to any of its processes (confirmations/worker.py).
        install()
        events.name_codes(message=Message.Kind, channel=Message.Channel, state=Message.State)
        events.name_hours(opens=rules.CALLS_FROM, closes=rules.CALLS_UNTIL)  # R14
