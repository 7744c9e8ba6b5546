"""Date filters that look forward, as a clinic's day does: today, tomorrow,
this week, the next 7 days; the past on request. Days are the clinic's
(the active time zone: a clinic's staff see their clinic's)."""

from datetime import datetime, time, timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ForwardDateFilter(admin.SimpleListFilter):
    """By `field` (a datetime); with no choice made, from today on."""

    title = _("when")
    parameter_name = "when"
    field = "start"
    CHOICES = [
        ("today", _("Today")),
        ("tomorrow", _("Tomorrow")),
        ("week", _("This week")),
        ("next7", _("Next 7 days")),
        ("past", _("Past")),
        ("all", _("All dates")),
    ]

    def lookups(self, request, model_admin):
        return self.CHOICES

    def choices(self, changelist):
        # "From today" is the default, in place of Django's "All".
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("From today"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        today = timezone.localdate()
        midnight = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
        day = timedelta(days=1)
        monday = midnight - today.weekday() * day
        ranges = {
            None: (midnight, None),
            "today": (midnight, midnight + day),
            "tomorrow": (midnight + day, midnight + 2 * day),
            "week": (monday, monday + 7 * day),
            "next7": (midnight, midnight + 7 * day),
            "past": (None, timezone.now()),
            "all": (None, None),
        }
        first, before = ranges.get(self.value(), ranges[None])
        if first is not None:
            queryset = queryset.filter(**{f"{self.field}__gte": first})
        if before is not None:
            queryset = queryset.filter(**{f"{self.field}__lt": before})
        return queryset
