"""The daily retention task (confirmations/retention.py), at 03:15."""

from django.db import migrations

NAME = "hub: erase old message contents"


def create_schedule(apps, schema_editor):
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    tomorrow = timezone.localdate() + timedelta(days=1)
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "confirmations.tasks.erase_old_contents",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
            "next_run": datetime.combine(tomorrow, time(3, 15), tzinfo=timezone.get_current_timezone()),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("confirmations", "0009_message_reason"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
