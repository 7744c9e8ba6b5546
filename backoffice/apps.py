from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackOfficeConfig(AppConfig):
    """Every staff screen: the admin of the clinics' data, the agenda, the
    start page. Above the apps whose rows it shows; none of them imports it."""

    name = "backoffice"

    def ready(self) -> None:
        # Imported once the apps are loaded, as Django requires of models.
        from backoffice.roles import ensure_roles

        # Permissions exist only after migrate; the roles follow them.
        post_migrate.connect(ensure_roles, sender=self)
