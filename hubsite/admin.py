"""The Hub's admin app: Django's, with the Hub's own site (backoffice/site.py).

Loaded with the apps, before any model: the site is named, not imported,
and Django builds it once the models are ready."""

from django.contrib.admin.apps import AdminConfig


class HubAdminConfig(AdminConfig):
    default_site = "backoffice.site.HubAdminSite"
