"""The back office's two roles, clinic staff and support, as Django groups:
what each may do in the admin. (Which clinics' rows each sees:
schedules/access.py.)"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from schedules.access import STAFF_GROUP, SUPPORT_GROUP

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
        # Clinic staff accounts (backoffice/staff_admin.py), never deleted.
        ("auth.user", ["view", "add", "change"]),
    ],
}


def ensure_roles(**kwargs) -> None:
    """Creates or updates the two staff groups (run after every migrate)."""
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
