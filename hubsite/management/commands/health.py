"""The health checks for cron or Nagios: exit 0 when all pass, 2 when one fails."""

import json
import sys

from django.core.management.base import BaseCommand

from hubsite.health import examine


class Command(BaseCommand):
    help = "Checks the database, cache, broker, worker and outbox; exits 0 (OK) or 2 (CRITICAL)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        report = examine()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            for check in report.checks:
                self.stdout.write(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
            failures = ", ".join(f"{reason} {count}" for reason, count in report.failures_last_hour.items())
            self.stdout.write(f"     failures in the last hour: {failures or 'none'}")
        sys.exit(0 if report.ok else 2)
