import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def fill(apps, schema_editor):
    """Entries made from the booking page were added by the patient; every
    entry has waited since it was added."""
    entry = apps.get_model("booking", "WaitlistEntry")
    entry.objects.update(waits_since=F("created_at"))
    entry.objects.filter(online_requests__isnull=False).update(added_by="patient")


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0005_waitlist_language"),
    ]

    operations = [
        # One entry may come from several requests: joining again widens it.
        migrations.AlterField(
            model_name="bookingrequest",
            name="entry",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="online_requests",
                to="booking.waitlistentry",
                verbose_name="waiting list entry",
            ),
        ),
        migrations.AddField(
            model_name="waitlistentry",
            name="added_by",
            field=models.CharField(
                choices=[("staff", "staff"), ("patient", "the patient, on the booking page")],
                default="staff",
                max_length=8,
                verbose_name="added by",
            ),
        ),
        migrations.AddField(
            model_name="waitlistentry",
            name="waits_since",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="waiting since"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
