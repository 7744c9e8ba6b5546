from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SchedulesConfig(AppConfig):
    name = "schedules"
    verbose_name = _("Schedules")

    def ready(self) -> None:
        # Imported once the apps are loaded, as Django requires of models.
        from history import events
        from schedules.models import Appointment
        from schedules.triggers import install_after_migrate

        events.name_codes(hub_reason=Appointment.HubReason)

        # The cross-clinic triggers follow every migrate (triggers.py).
        post_migrate.connect(install_after_migrate, sender=self)
