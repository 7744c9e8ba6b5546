"""The back office's clock: times read and typed in the clinic's zone."""

from django.utils import timezone

from schedules.access import is_support
from schedules.models import Clinic


class ClinicTimeZoneMiddleware:
    """Staff of one clinic read and type times in their clinic's zone (a
    clinic of the Îles-de-la-Madeleine is an hour ahead of Montréal).
    Support, across clinics, keep the Hub's default zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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
