import logging

from django.core.management.base import BaseCommand

from hubsite.demo import load_demo


class Command(BaseCommand):
    help = "Loads the demo clinics, people, slots and appointments (idempotent)."

    def handle(self, *args, **options) -> None:
        logging.getLogger("django-q").setLevel(logging.WARNING)  # not one line per demo booking
        logins = load_demo()
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Logins:"))
        for login in logins:
            self.stdout.write(f"  {login.username:<12} {login.password:<18} {login.role}")
