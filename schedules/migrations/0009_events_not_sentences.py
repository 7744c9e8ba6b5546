"""History and the latest communication as events, written out when read
(history/events.py), instead of sentences stored in French.

Sentences written before this migration cannot be turned back into events:
they are kept as "note" events, which read as they were written, less the
rule codes they cited ("(R19, D9)"), which staff are not meant to read.
"""

import re

from django.db import migrations, models

RULE_CODES = re.compile(r"\s*\((?:[RD]\d{1,2}(?:,\s*)?)+\)")


def without_codes(text: str) -> str:
    return RULE_CODES.sub("", text)


def keep_old_sentences(apps, schema_editor):
    Appointment = apps.get_model("schedules", "Appointment")
    StatusChange = apps.get_model("schedules", "StatusChange")
    for appointment in Appointment.objects.exclude(status_note="").only("pk", "status_note").iterator():
        Appointment.objects.filter(pk=appointment.pk).update(
            communication={"kind": "note", "text": without_codes(appointment.status_note)}
        )
    for change in StatusChange.objects.exclude(note="").only("pk", "note").iterator():
        StatusChange.objects.filter(pk=change.pk).update(events=[{"kind": "note", "text": without_codes(change.note)}])


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0008_name_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="communication",
            field=models.JSONField(blank=True, default=dict, editable=False, verbose_name="latest communication"),
        ),
        migrations.AddField(
            model_name="statuschange",
            name="events",
            field=models.JSONField(blank=True, default=list, verbose_name="what happened"),
        ),
        migrations.RunPython(keep_old_sentences, migrations.RunPython.noop),
        migrations.RemoveField(model_name="appointment", name="status_note"),
        migrations.RemoveField(model_name="statuschange", name="note"),
    ]
