from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = _("Communications")

    def ready(self) -> None:
        # Imported once the apps are loaded, as Django requires of models.
        from history import events
        from outbox import tracking  # noqa: F401 -- receives the email provider's reports
        from outbox.models import Message
        from outbox.worker import install

        # The worker (manage.py qcluster) finishes the send in flight and exits
        # cleanly on SIGTERM to any of its processes (outbox/worker.py).
        install()
        events.name_codes(message=Message.Kind, channel=Message.Channel, state=Message.State)
