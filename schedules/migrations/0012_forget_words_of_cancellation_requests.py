"""A request to cancel by SMS was recorded in the appointment's history with
the first 20 letters of the patient's own words ("ANNULEZJAIUNECHIMIOD"),
which outlived the reply's retention period. The history now records the
request alone; this removes the words from the lines already written."""

from django.db import migrations


def forget_the_words(apps, schema_editor):
    StatusChange = apps.get_model("schedules", "StatusChange")
    for line in StatusChange.objects.filter(actor="patient").only("events").iterator():
        kept = [
            {name: value for name, value in happened.items() if name != "word"}
            if isinstance(happened, dict) and happened.get("kind") == "wants_to_cancel"
            else happened
            for happened in line.events or []
        ]
        if kept != line.events:
            StatusChange.objects.filter(pk=line.pk).update(events=kept)


class Migration(migrations.Migration):
    dependencies = [("schedules", "0011_audit_staff_access")]

    operations = [migrations.RunPython(forget_the_words, migrations.RunPython.noop)]
