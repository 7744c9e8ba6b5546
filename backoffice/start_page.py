"""The staff start page: what needs a look today (issue 6).

Today's and tomorrow's appointments with their confirmation status, the
messages that failed, the SMS replies staff must handle, and the
confirmation rate by channel over the last 30 days. Everything is limited
to the clinics the user may see.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from outbox.models import Message, Reply
from schedules.access import visible_to
from schedules.models import Appointment, Clinic


@dataclass
class ChannelRate:
    channel: str
    label: str
    reminded: int
    confirmed: int
    since: datetime

    @property
    def percent(self) -> int:
        return round(100 * self.confirmed / self.reminded) if self.reminded else 0

    @property
    def reminded_url(self) -> str:
        """The message list of the reminders this rate counts."""
        query = {
            "kind__exact": Message.Kind.REMINDER,
            "channel__exact": self.channel,
            "state__in": f"{Message.State.SENT},{Message.State.DELIVERED}",
            "sent_at__gte": self.since.isoformat(),
        }
        return reverse("admin:outbox_message_changelist") + "?" + urlencode(query)

    @property
    def confirmed_url(self) -> str:
        """The same, of the appointments the patient confirmed."""
        confirmed = ",".join(sorted(Appointment.CONFIRMED))
        return self.reminded_url + "&" + urlencode({"appointment__status__in": confirmed})


def start_page(user, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    clinics = visible_to(Clinic.objects.all(), user)
    zone = clinics[0].zone if len(clinics) == 1 else timezone.get_default_timezone()
    today = timezone.localtime(now, zone).date()
    midnight = datetime.combine(today, time.min, tzinfo=zone)
    appointments = (
        visible_to(Appointment.objects.all(), user)
        .select_related("patient", "professional__clinic", "service")
        .order_by("start")
    )
    day = timedelta(days=1)
    return {
        "days": [
            (_("Today"), appointments.filter(start__gte=midnight, start__lt=midnight + day)),
            (_("Tomorrow"), appointments.filter(start__gte=midnight + day, start__lt=midnight + 2 * day)),
        ],
        "failed": visible_to(Message.objects.all(), user)
        # Not yet sent again by staff (D15): what still needs a look.
        .filter(state__in=Message.SENDABLE_AGAIN, due_at__gte=now - timedelta(days=7), resend__isnull=True)
        .exclude(kind__in=Message.SAID_ONCE)  # never sent again (the message list has them)
        .select_related("patient", "appointment")
        .order_by("-due_at")[:20],
        # Replies the Hub could not act on (not understood, a request to
        # cancel…) until someone marks them handled.
        "to_handle": visible_to(Reply.objects.all(), user)
        .filter(Reply.TO_HANDLE, received_at__gte=now - timedelta(days=30))
        .select_related("message__appointment__patient")
        .order_by("-received_at", "-id")[:20],
        "rates": confirmation_rates(user, now),
    }


def confirmation_rates(user, now: datetime) -> list[ChannelRate]:
    """Of the appointments reminded in the last 30 days, by the reminder's
    channel: how many the patient confirmed."""
    since = now - timedelta(days=30)
    reminders = visible_to(Message.objects.all(), user).filter(
        kind=Message.Kind.REMINDER,
        state__in=[Message.State.SENT, Message.State.DELIVERED],
        sent_at__gte=since,
        appointment__isnull=False,
    )
    rows = reminders.values("channel").annotate(
        reminded=Count("appointment", distinct=True),
        confirmed=Count("appointment", distinct=True, filter=Q(appointment__status__in=Appointment.CONFIRMED)),
    )
    labels = dict(Message.Channel.choices)
    found = {row["channel"]: row for row in rows}
    return [
        ChannelRate(
            channel,
            labels[channel],
            found.get(channel, {}).get("reminded", 0),
            found.get(channel, {}).get("confirmed", 0),
            since,
        )
        for channel in (Message.Channel.EMAIL, Message.Channel.SMS, Message.Channel.VOICE)
    ]
