"""Support manage staff accounts without being superusers (issue 11)."""

import pytest
from django.contrib.auth.models import Group, User
from django.http import HttpRequest
from django.test import Client

from conftest import make_clinic
from schedules.access import STAFF_GROUP, SUPPORT_GROUP

pytestmark = pytest.mark.django_db


def member(username: str, group: str, **fields) -> User:
    user = User.objects.create_user(username, password="ancien-mot-de-passe-9", is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def support(client):
    client.force_login(member("soutien", SUPPORT_GROUP))
    return client


def logged_in(username: str, password: str) -> Client:
    """A client logged in with the password, through the login throttle
    (which reads the request, as the login page gives it)."""
    other = Client()
    assert other.login(request=HttpRequest(), username=username, password=password)
    return other


def test_support_create_a_staff_member_of_chosen_clinics(support, clinic):
    elsewhere = make_clinic("Autre clinique")
    response = support.post(
        "/admin/auth/user/add/",
        {
            "username": "nouvelle", "first_name": "Nadia", "last_name": "Roy", "email": "nadia@example.com",
            "usable_password": "true", "password1": "Un-mot-de-passe-solide-42", "password2": "Un-mot-de-passe-solide-42",
            "clinics": [clinic.pk],
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(username="nouvelle")
    assert created.is_staff and not created.is_superuser
    assert list(created.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    assert list(created.clinics.all()) == [clinic]
    page = logged_in("nouvelle", "Un-mot-de-passe-solide-42").get("/admin/schedules/clinic/").content.decode()
    assert clinic.name in page and elsewhere.name not in page


def test_support_change_clinics_deactivate_and_reset_a_password(support, clinic):
    elsewhere = make_clinic("Autre clinique")
    staff = member("accueil", STAFF_GROUP)
    clinic.staff.add(staff)
    form = {"username": "accueil", "email": "", "is_active": "on", "clinics": [elsewhere.pk]}
    assert support.post(f"/admin/auth/user/{staff.pk}/change/", form).status_code == 302
    assert list(staff.clinics.all()) == [elsewhere]
    new_password = {"password1": "Nouveau-mot-de-passe-77", "password2": "Nouveau-mot-de-passe-77"}
    assert support.post(f"/admin/auth/user/{staff.pk}/password/", new_password).status_code == 302
    logged_in("accueil", "Nouveau-mot-de-passe-77")
    form.pop("is_active")  # unticked
    assert support.post(f"/admin/auth/user/{staff.pk}/change/", form).status_code == 302
    staff.refresh_from_db()
    assert not staff.is_active
    assert not Client().login(request=HttpRequest(), username="accueil", password="Nouveau-mot-de-passe-77")


def test_support_cannot_raise_rights(support):
    boss = User.objects.create_superuser("patron", password="x")
    colleague = member("collegue", SUPPORT_GROUP)
    staff = member("accueil", STAFF_GROUP)
    for account in (boss, colleague):
        assert support.get(f"/admin/auth/user/{account.pk}/password/").status_code == 403
        assert support.post(f"/admin/auth/user/{account.pk}/change/", {"username": "x"}).status_code == 403
    page = support.get(f"/admin/auth/user/{staff.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="groups"' not in page and 'name="user_permissions"' not in page
    # A field the form does not have changes nothing.
    support.post(
        f"/admin/auth/user/{staff.pk}/change/",
        {"username": "accueil", "is_superuser": "on", "groups": [Group.objects.get(name=SUPPORT_GROUP).pk]},
    )
    staff.refresh_from_db()
    assert not staff.is_superuser and list(staff.groups.values_list("name", flat=True)) == [STAFF_GROUP]
    assert support.post(f"/admin/auth/user/{staff.pk}/delete/", {"post": "yes"}).status_code == 403


def test_clinic_staff_do_not_see_accounts(client, clinic):
    staff = member("accueil", STAFF_GROUP)
    clinic.staff.add(staff)
    client.force_login(staff)
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get(f"/admin/auth/user/{staff.pk}/change/").status_code == 403
    assert "/admin/auth/user/" not in client.get("/admin/").content.decode()


def test_superusers_grant_the_support_role(admin_client):
    staff = member("accueil", STAFF_GROUP)
    page = admin_client.get(f"/admin/auth/user/{staff.pk}/change/").content.decode()
    assert 'name="is_superuser"' in page and 'name="groups"' in page


def test_support_cannot_take_over_an_account_with_rights_of_its_own(support):
    from django.contrib.auth.models import Permission

    staff = member("gestion", STAFF_GROUP)
    staff.user_permissions.add(Permission.objects.get(codename="change_user"))
    assert support.get(f"/admin/auth/user/{staff.pk}/password/").status_code == 403
