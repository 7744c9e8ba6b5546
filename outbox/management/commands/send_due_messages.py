from django.core.management.base import BaseCommand

from outbox.dispatch import send_due_messages


class Command(BaseCommand):
    help = "Sends every message due now, once, and prints what happened."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"send_due_messages: {send_due_messages()}")
