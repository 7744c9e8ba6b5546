from django.apps import AppConfig


class ConfirmationsConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'confirmations'
