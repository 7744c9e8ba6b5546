"""Who sees which clinic's data.

Clinic staff see only the clinics they belong to (`Clinic.staff`); the
support team and superusers see every clinic. Each model names the path
from itself to its clinic in `clinic_lookup`.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

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
    from schedules.models import Clinic

    # A subquery rather than a join: no duplicate rows, no DISTINCT.
    their_clinics = Clinic.objects.filter(staff=user).values("pk")
    return queryset.filter(**{f"{queryset.model.clinic_lookup}__in": their_clinics})


# What each role may do in the admin, as (app_label.model, actions).
# Both roles run the clinics' days; services and clinics are configured by
# support (R6, R8), staff only read them.
DAY_TO_DAY = [
    ("schedules.slot", ["view", "add", "change", "delete"]),
    ("schedules.appointment", ["view", "add", "change", "delete"]),
    ("schedules.statuschange", ["view"]),
    ("patients.patient", ["view", "add", "change"]),
    ("outbox.message", ["view"]),
    ("outbox.reply", ["view"]),
    ("booking.waitlistentry", ["view", "add", "change"]),
    ("booking.offer", ["view"]),
]
ROLE_PERMISSIONS = {
    STAFF_GROUP: [
        ("schedules.clinic", ["view"]),
        ("schedules.professional", ["view"]),
        ("schedules.service", ["view"]),
        *DAY_TO_DAY,
    ],
    SUPPORT_GROUP: [
        ("schedules.clinic", ["view", "add", "change"]),
        ("schedules.professional", ["view", "add", "change", "delete"]),
        ("schedules.service", ["view", "add", "change", "delete"]),
        *DAY_TO_DAY,
        ("outbox.optout", ["view"]),
        ("booking.bookingrequest", ["view"]),
        # Clinic staff accounts (schedules/staff_admin.py), never deleted.
        ("auth.user", ["view", "add", "change"]),
    ],
}


def ensure_roles(**kwargs) -> None:
    """Creates or updates the two staff groups (run after every migrate)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # post_migrate reaches apps one by one; make sure the permissions of
    # every app named below exist already.
    for label in ("auth", "schedules", "patients", "outbox", "booking"):
        create_permissions(apps.get_app_config(label), verbosity=0)

    for group_name, grants in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        codenames = []
        for model_label, actions in grants:
            app_label, model = model_label.split(".")
            codenames += [(app_label, f"{action}_{model}") for action in actions]
        permissions = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in codenames
        ]
        group.permissions.set(permissions)


class ClinicTimeZoneMiddleware:
    """Staff of one clinic read and type times in their clinic's zone (a
    clinic of the Îles-de-la-Madeleine is an hour ahead of Montréal).
    Support, across clinics, keep the Hub's default zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import timezone

        from schedules.models import Clinic

        user = getattr(request, "user", None)
        zones = (
            list(Clinic.objects.filter(staff=user).order_by().values_list("timezone", flat=True).distinct()[:2])
            if user is not None and user.is_authenticated and user.is_staff and not is_support(user)
            else []
        )
        if len(zones) == 1:
            timezone.activate(zones[0])
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
