"""What messages said and patients answered is erased after
HUB_RETENTION_DAYS; what staff and audits need stays (issue 12)."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django_q.models import Schedule

from conftest import TORONTO, book, make_patient, make_slot
from hubsite import tasks
from outbox.dispatch import send_due_messages
from outbox.models import Message, Reply
from outbox.retention import erase_old_contents

pytestmark = pytest.mark.django_db

BOOKED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)


@pytest.fixture
def old_and_new(slot, clinic, professional, service, settings):
    settings.HUB_RETENTION_DAYS = 90
    with time_machine.travel(BOOKED_AT, tick=False):
        old = book(slot, make_patient(clinic, email="jean@example.com"))
        send_due_messages()
        Reply.objects.create(channel="sms", number="+15145550111", body="Oui", clinic=clinic, outcome="confirmed")
    later = BOOKED_AT + timedelta(days=80)
    with time_machine.travel(later, tick=False):
        new = book(make_slot(professional, service, later + timedelta(days=5)), make_patient(clinic, last_name="Neuf"))
        send_due_messages()
        Reply.objects.create(channel="sms", number="+15145550112", body="OK", clinic=clinic, outcome="confirmed")
    return old, new


def test_contents_older_than_the_retention_are_erased_and_metadata_kept(old_and_new):
    old, new = old_and_new
    before = Message.objects.get(appointment=old, kind="confirmation")
    assert before.content and before.subject and before.html and before.snapshot
    with time_machine.travel(BOOKED_AT + timedelta(days=102), tick=False):  # 90 days after the appointment
        assert erase_old_contents() == (2, 1)  # the confirmation, and the reminder withdrawn once past
    after = Message.objects.get(pk=before.pk)
    assert (after.subject, after.content, after.html, after.snapshot) == ("", "", "", {})
    kept = ("kind", "channel", "to", "state", "sent_at", "due_at", "patient_id", "appointment_id", "provider_id")
    assert all(getattr(after, name) == getattr(before, name) for name in kept)
    assert Reply.objects.get(number="+15145550111").body == ""
    assert Reply.objects.get(number="+15145550111").outcome == "confirmed"


def test_nothing_newer_is_touched_and_a_second_pass_changes_nothing(old_and_new):
    old, new = old_and_new
    Message.objects.filter(appointment=old, kind="reminder").update(state="pending")  # as if still on its way
    with time_machine.travel(BOOKED_AT + timedelta(days=102), tick=False):
        erase_old_contents()
        assert erase_old_contents() == (0, 0)
    newer = Message.objects.get(appointment=new, kind="confirmation")
    assert newer.content and newer.snapshot
    assert Message.objects.get(appointment=old, kind="reminder").snapshot  # still pending: kept
    assert Reply.objects.get(number="+15145550112").body == "OK"


def test_exactly_at_the_limit_nothing_is_erased(old_and_new):
    old, _new = old_and_new
    confirmation = Message.objects.get(appointment=old, kind="confirmation")
    limit = max(confirmation.created_at, confirmation.planned_start) + timedelta(days=90)
    with time_machine.travel(limit, tick=False):
        assert erase_old_contents()[0] == 0
    with time_machine.travel(limit + timedelta(seconds=1), tick=False):
        assert erase_old_contents()[0] == 2


def test_it_runs_every_day_as_a_task():
    schedule = Schedule.objects.get(func="hubsite.tasks.erase_old_contents")
    assert (schedule.schedule_type, schedule.repeats) == ("D", -1)
    assert tasks.erase_old_contents() == (
        "contents erased: 0 messages, 0 replies, 0 online booking requests, 0 failed and 0 successful logins"
    )


def test_what_may_still_be_needed_is_kept(slot, clinic, settings):
    """A message of an appointment still to come may be sent again from its
    snapshot; a reply not yet understood keeps its words (a late STOP)."""
    settings.HUB_RETENTION_DAYS = 90
    with time_machine.travel(BOOKED_AT, tick=False):
        far = book(make_slot(slot.professional, slot.service, BOOKED_AT + timedelta(days=200)), make_patient(clinic))
        send_due_messages()
        Reply.objects.create(channel="sms", number="+15145550111", body="STOP", clinic=clinic, outcome="received")
    with time_machine.travel(BOOKED_AT + timedelta(days=100), tick=False):
        assert erase_old_contents() == (0, 0)
    assert Message.objects.get(appointment=far, kind="confirmation").snapshot
    assert Reply.objects.get(number="+15145550111").body == "STOP"


def test_a_long_backlog_is_erased_in_batches_and_resumed(old_and_new, monkeypatch):
    from outbox import retention

    monkeypatch.setattr(retention, "BATCH", 1)
    with time_machine.travel(BOOKED_AT + timedelta(days=102), tick=False):
        assert erase_old_contents(budget=timedelta(0)) == (0, 0)  # no time: nothing, and nothing half done
        assert erase_old_contents() == (2, 1)  # one row per batch, all of them
