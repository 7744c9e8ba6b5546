from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SchedulesConfig(AppConfig):
    name = "schedules"
    verbose_name = _("Schedules")

    def ready(self) -> None:
        from schedules.access import ensure_roles
        from schedules.triggers import install_after_migrate

        # Permissions exist only after migrate; the roles follow them.
        post_migrate.connect(ensure_roles, sender=self)
        post_migrate.connect(install_after_migrate, sender=self)
