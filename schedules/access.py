"""Who sees which clinic's data.

Clinic staff see only the clinics they belong to (`Clinic.staff`); the
support team and superusers see every clinic. Each model names the path
from itself to its clinic in `clinic_lookup`. What each role may do in
the admin: backoffice/roles.py.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from schedules.models import Clinic

SUPPORT_GROUP = "support"
STAFF_GROUP = "clinic staff"


def is_support(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_active or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    # Asked many times per request (every list, filter and choice): the
    # answer is kept on the request's user object, so once per request.
    if not hasattr(user, "_hub_is_support"):
        user._hub_is_support = user.groups.filter(name=SUPPORT_GROUP).exists()
    return user._hub_is_support


def visible_to(queryset: QuerySet, user: AbstractBaseUser | AnonymousUser) -> QuerySet:
    """The rows of `queryset` that `user` may see."""
    if is_support(user):
        return queryset
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    # A subquery rather than a join: no duplicate rows, no DISTINCT.
    their_clinics = Clinic.objects.filter(staff=user).values("pk")
    return queryset.filter(**{f"{queryset.model.clinic_lookup}__in": their_clinics})
