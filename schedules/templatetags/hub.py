"""Times and days as the reader's language writes them (confirmations/dates.py)."""

from datetime import date, datetime

from django import template
from django.utils import translation

from confirmations.dates import ENGLISH_DAYS, ENGLISH_MONTHS, FRENCH_DAYS, FRENCH_MONTHS, clock

register = template.Library()


def _language() -> str:
    return "fr" if (translation.get_language() or "fr").startswith("fr") else "en"


@register.filter(name="clock")
def clock_filter(moment: datetime) -> str:
    """'14 h 30' / '2:30 PM', of a time already in the clinic's zone."""
    return clock(moment, _language()) if moment else ""


@register.filter
def day_name(day: date) -> str:
    """'lundi 30 novembre' / 'Monday, November 30'."""
    if not day:
        return ""
    if _language() == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        return f"{FRENCH_DAYS[day.weekday()]} {number} {FRENCH_MONTHS[day.month - 1]}"
    return f"{ENGLISH_DAYS[day.weekday()]}, {ENGLISH_MONTHS[day.month - 1]} {day.day}"


@register.filter
def long_day(day: date) -> str:
    """'samedi 28 novembre 2026' / 'Saturday, November 28, 2026'."""
    if not day:
        return ""
    return f"{day_name(day)} {day.year}" if _language() == "fr" else f"{day_name(day)}, {day.year}"
