"""The Hub's admin site: Django's, with the staff start page as its index."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class HubAdminSite(admin.AdminSite):
    site_header = _("The Hub")
    site_title = _("The Hub")
    index_title = _("Start page")
    index_template = "admin/hub_index.html"
    # The change lists need the width: the app list is one click away.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        from schedules.start_page import start_page

        return super().index(request, {**(extra_context or {}), **start_page(request.user)})


class HubAdminConfig(AdminConfig):
    default_site = "hubsite.admin.HubAdminSite"
