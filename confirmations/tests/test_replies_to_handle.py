"""Replies staff must handle (not understood, a request to cancel): shown
with their appointment and on the start page, marked handled once, by whom
and when, within the staff member's own clinic."""

import pytest
from django.contrib.auth.models import User

from conftest import make_clinic, make_staff
from outbox.models import Reply
from outbox.tests.test_webhooks import text_back

pytestmark = pytest.mark.django_db


@pytest.fixture
def wants_to_cancel(client, twilio_settings, texted):
    text_back(client, "Je veux annuler")
    client.logout()
    return Reply.objects.get()


def staff_member(clinic, username: str, first_name: str = "") -> User:
    return make_staff(clinic, username, first_name=first_name, last_name="Roy")


def handle(client, reply, next_url="/admin/"):
    return client.post(f"/admin/outbox/reply/{reply.pk}/handled/", {"next": next_url})


def test_a_request_to_cancel_waits_on_the_start_page_with_its_appointment(client, wants_to_cancel, texted):
    client.force_login(staff_member(texted.clinic, "julie", "Julie"))
    page = client.get("/admin/").content.decode()
    assert "« Je veux annuler »" in page and "Veut annuler" in page
    assert f"/admin/schedules/appointment/{texted.pk}/change/" in page
    assert f"/admin/outbox/reply/{wants_to_cancel.pk}/handled/" in page


def test_marking_it_handled_says_who_and_when_and_takes_it_off_the_start_page(client, wants_to_cancel, texted):
    julie = staff_member(texted.clinic, "julie", "Julie")
    client.force_login(julie)
    response = handle(client, wants_to_cancel)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    wants_to_cancel.refresh_from_db()
    assert wants_to_cancel.handled_by == julie and wants_to_cancel.handled_at is not None
    assert "« Je veux annuler »" not in client.get("/admin/").content.decode()
    line = texted.history.order_by("-id").first()
    assert (line.text, line.actor, line.user) == (
        "Une réponse du patient par texto a été traitée.",
        "staff",
        julie,
    )
    page = client.get(f"/admin/schedules/appointment/{texted.pk}/change/").content.decode()
    assert "Réponses du patient" in page and "Julie Roy" in page


def test_a_second_click_or_a_colleagues_changes_nothing(client, wants_to_cancel, texted):
    julie, marc = staff_member(texted.clinic, "julie"), staff_member(texted.clinic, "marc")
    client.force_login(julie)
    handle(client, wants_to_cancel)
    client.force_login(marc)
    handle(client, wants_to_cancel)
    wants_to_cancel.refresh_from_db()
    assert wants_to_cancel.handled_by == julie
    said = [e for line in texted.history.all() for e in line.events if e["kind"] == "reply_handled"]
    assert len(said) == 1


def test_staff_of_another_clinic_can_neither_see_nor_handle_it(client, wants_to_cancel):
    client.force_login(staff_member(make_clinic("Autre clinique"), "autre"))
    assert "Je veux annuler" not in client.get("/admin/").content.decode()
    assert handle(client, wants_to_cancel).status_code == 404
    assert client.get(f"/admin/outbox/reply/{wants_to_cancel.pk}/change/").status_code == 302
    wants_to_cancel.refresh_from_db()
    assert wants_to_cancel.handled_at is None


def test_only_a_post_marks_it_and_a_foreign_next_is_ignored(client, wants_to_cancel, texted):
    client.force_login(staff_member(texted.clinic, "julie"))
    assert client.get(f"/admin/outbox/reply/{wants_to_cancel.pk}/handled/").status_code == 302
    wants_to_cancel.refresh_from_db()
    assert wants_to_cancel.handled_at is None
    response = handle(client, wants_to_cancel, next_url="https://evil.example/")
    assert response["Location"] == f"/admin/outbox/reply/{wants_to_cancel.pk}/change/"


def test_a_reply_the_hub_acted_on_is_not_for_staff(client, twilio_settings, texted):
    text_back(client, "OK")
    reply = Reply.objects.get()
    assert not reply.for_staff
    client.force_login(staff_member(texted.clinic, "julie"))
    handle(client, reply)
    reply.refresh_from_db()
    assert reply.handled_at is None


def test_the_reply_list_filters_those_to_handle(client, wants_to_cancel, texted):
    client.force_login(staff_member(texted.clinic, "julie"))
    assert "Je veux annuler" in client.get("/admin/outbox/reply/", {"to_handle": "yes"}).content.decode()
    handle(client, wants_to_cancel)
    assert "Je veux annuler" not in client.get("/admin/outbox/reply/", {"to_handle": "yes"}).content.decode()
    assert "Je veux annuler" in client.get("/admin/outbox/reply/", {"to_handle": "no"}).content.decode()
