from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfirmationsConfig(AppConfig):
    name = "confirmations"
    verbose_name = _("Appointment messages")

    def ready(self) -> None:
        # Imported once the apps are loaded, as Django requires of models.
        from confirmations import composing, planning, rules  # noqa: F401 -- planning connects its signals
        from history import events

        composing.register()  # the appointment messages and SMS answers the outbox sends
        events.name_hours(opens=rules.CALLS_FROM, closes=rules.CALLS_UNTIL)  # R14
