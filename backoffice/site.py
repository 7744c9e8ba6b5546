"""The Hub's admin site: Django's, with the staff start page as its index,
the agenda, and the second step after the password before any page."""

from functools import wraps

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backoffice import two_factor
from backoffice.agenda import agenda_view
from backoffice.start_page import start_page


class HubAdminSite(admin.AdminSite):
    site_header = _("The Hub")
    site_title = _("The Hub")
    index_title = _("Start page")
    index_template = "admin/hub_index.html"
    # No public site behind the back office: no "View site" link to a 404.
    site_url = None
    # The change lists need the width: the app list is one click away.
    enable_nav_sidebar = False

    def get_urls(self):
        agenda = self.admin_view(lambda request: agenda_view(request, self))
        return [
            path("schedules/agenda/", agenda, name="schedules_agenda"),
            # Between the password and the admin: not behind admin_view.
            path("second-step/", lambda request: two_factor.verify_view(request, self), name="two_factor_verify"),
            path("second-step/setup/", lambda request: two_factor.enrol_view(request, self), name="two_factor_enrol"),
            *super().get_urls(),
        ]

    def admin_view(self, view, cacheable=False):
        """Every admin page waits for the second step (backoffice/two_factor.py);
        logging out does not."""
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def second_step_first(request, *args, **kwargs):
            step = two_factor.step_for(request)
            if step is not None and request.resolver_match.url_name != "logout":
                return two_factor.go_to_step(request, step)
            return inner(request, *args, **kwargs)

        return second_step_first

    def index(self, request, extra_context=None):
        return super().index(request, {**(extra_context or {}), **start_page(request.user)})
