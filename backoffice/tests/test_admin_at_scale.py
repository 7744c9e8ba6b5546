"""Admin lists that stay fast on large tables (issue 10): no work over the
whole table per page, search through the few matching names."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import TORONTO, book, make_patient, make_professional, make_slot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


@pytest.fixture
def booked(slot, patient, clinic, professional, service):
    other = make_professional(clinic, first_name="Luc", last_name="Gagnon")
    start = datetime(2026, 12, 4, 9, 0, tzinfo=TORONTO)
    return [
        book(slot, patient),
        book(make_slot(professional, service, start), make_patient(clinic, first_name="Anne", last_name="Côté")),
        book(
            make_slot(other, service, start + timedelta(hours=1)),
            make_patient(clinic, first_name="Paul", last_name="Roy"),
        ),
    ]


def listed(admin_client, query: str) -> str:
    return admin_client.get(f"/admin/schedules/appointment/?{query}").content.decode()


class TestSearch:
    def test_it_finds_appointments_by_patient_last_or_first_name_or_professional(self, admin_client, booked):
        first, second, third = booked
        assert f"/{second.pk}/change/" in listed(admin_client, "q=côt")
        assert f"/{first.pk}/change/" not in listed(admin_client, "q=côt")
        assert f"/{second.pk}/change/" in listed(admin_client, "q=anne")
        page = listed(admin_client, "q=gagnon")
        assert f"/{third.pk}/change/" in page and f"/{first.pk}/change/" not in page

    def test_every_word_must_match(self, admin_client, booked):
        first, _second, third = booked
        page = listed(admin_client, "q=roy+gagnon")  # Paul Roy, with Luc Gagnon
        assert f"/{third.pk}/change/" in page and f"/{first.pk}/change/" not in page  # Jean Roy is with Tremblay

    def test_staff_still_see_only_their_clinic(self, client, booked):
        from django.contrib.auth.models import Group, User

        from conftest import make_clinic
        from schedules.access import STAFF_GROUP

        other = User.objects.create_user("autre", password="x", is_staff=True)
        other.groups.add(Group.objects.get(name=STAFF_GROUP))
        make_clinic("Autre clinique").staff.add(other)
        client.force_login(other)
        assert f"/{booked[0].pk}/change/" not in client.get("/admin/schedules/appointment/?q=roy").content.decode()


class TestMessageSearch:
    """Staff find a message by its recipient, however the number is typed,
    or by the provider's id; each an index lookup (a prefix, never "contains")."""

    @pytest.fixture
    def sent(self, booked):
        from outbox.models import Message

        messages = list(Message.objects.filter(appointment__in=booked[:2], kind="confirmation").order_by("pk"))
        Message.objects.filter(pk=messages[0].pk).update(channel="sms", to="+15145550204", provider_id="SM0a1b2c")
        Message.objects.filter(pk=messages[1].pk).update(channel="email", to="anne.cote@example.com")
        return messages

    @pytest.mark.parametrize("typed", ["514 555-0204", "(514) 555-0204", "+1 514 555 0204", "+15145550204", "+1514"])
    def test_a_number_however_typed(self, admin_client, sent, typed):
        page = admin_client.get("/admin/outbox/message/", {"q": typed}).content.decode()
        assert f"/{sent[0].pk}/change/" in page and f"/{sent[1].pk}/change/" not in page

    @pytest.mark.parametrize("typed", ["anne.cote@example.com", "ANNE.C", "anne"])
    def test_the_start_of_an_address(self, admin_client, sent, typed):
        page = admin_client.get("/admin/outbox/message/", {"q": typed}).content.decode()
        assert f"/{sent[1].pk}/change/" in page and f"/{sent[0].pk}/change/" not in page

    def test_the_providers_id(self, admin_client, sent):
        page = admin_client.get("/admin/outbox/message/", {"q": "SM0a1b2c"}).content.decode()
        assert f"/{sent[0].pk}/change/" in page and f"/{sent[1].pk}/change/" not in page

    def test_not_the_middle_of_an_address(self, admin_client, sent):
        page = admin_client.get("/admin/outbox/message/", {"q": "example.com"}).content.decode()
        assert f"/{sent[1].pk}/change/" not in page


@pytest.mark.parametrize(
    "path", ["/admin/schedules/appointment/", "/admin/outbox/message/", "/admin/schedules/statuschange/",
             "/admin/schedules/slot/", "/admin/outbox/reply/"]
)  # fmt: skip
def test_no_list_reads_every_rows_date_or_sorts_to_count(admin_client, booked, path):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(path).status_code == 200
    sql = [query["sql"].upper() for query in queries.captured_queries]
    assert not any("DISTINCT" in statement and "DATE" in statement for statement in sql)  # no date hierarchy
    assert not any("COUNT(" in statement and "ORDER BY" in statement for statement in sql)
