"""The daily retention task asks every app to forget what it no longer
needs, so it now lives at the top of the house (hubsite/tasks.py)."""

from django.db import migrations

NAME = "hub: erase old message contents"


def move(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).update(func="hubsite.tasks.erase_old_contents")


def move_back(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).update(func="confirmations.tasks.erase_old_contents")


class Migration(migrations.Migration):
    dependencies = [("confirmations", "0017_outbox_models_move")]

    operations = [migrations.RunPython(move, move_back)]
