from django.db import migrations

from schedules import triggers


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0001_initial"),
        ("patients", "0002_initial"),
    ]

    operations = [migrations.RunPython(triggers.install, triggers.remove)]
