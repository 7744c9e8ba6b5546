from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = _("Online booking")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from booking import waitlist  # noqa: F401  (its receiver of freed slots)
