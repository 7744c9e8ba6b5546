from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = _("Online booking")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the apps are loaded, as Django requires of models.
        from booking import composing, offer_replies, waitlist  # noqa: F401  (waitlist: its receiver of freed slots)
        from confirmations import replies
        from outbox.models import Message

        composing.register()  # one-time codes and offers, as the outbox sends them
        replies.YES_TO[Message.Kind.OFFER] = offer_replies.take_offer  # D20
