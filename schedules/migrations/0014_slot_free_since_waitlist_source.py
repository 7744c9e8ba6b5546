import django.utils.timezone
from django.db import migrations, models

from schedules import triggers


def remove_on_sqlite(apps, schema_editor):
    # SQLite rebuilds the slot table to add its field; the appointment's
    # trigger that reads it must not be there meanwhile (installed again
    # below), either way.
    if schema_editor.connection.vendor == "sqlite":
        triggers.remove(apps, schema_editor)


class Migration(migrations.Migration):
    """D21: since when each slot is free. The slots already there get none
    (free since before: never offered to an entry already made, until an
    appointment leaves them); only new ones take the moment they are made."""

    dependencies = [
        ("schedules", "0013_online_booking_switches"),
    ]

    operations = [
        migrations.RunPython(remove_on_sqlite, triggers.install),
        migrations.AddField(
            model_name="slot",
            name="free_since",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="free since"),
        ),
        migrations.AlterField(
            model_name="slot",
            name="free_since",
            field=models.DateTimeField(
                blank=True, default=django.utils.timezone.now, editable=False, null=True, verbose_name="free since"
            ),
        ),
        migrations.AlterField(
            model_name="appointment",
            name="source",
            field=models.CharField(
                choices=[
                    ("staff", "booked by staff"),
                    ("online", "booked online (Sofy)"),
                    ("online_hub", "booked online (Sofy RV Hub)"),
                    ("waitlist", "from the waiting list, added by staff"),
                    ("external", "external portal (e.g. RVSQ)"),
                ],
                default="staff",
                max_length=16,
                verbose_name="source",
            ),
        ),
        migrations.RunPython(triggers.install, remove_on_sqlite),
    ]
