"""Times and days as the reader's language writes them (history/dates.py)."""

from datetime import date, datetime

from django import template

from history.dates import clock, reader_language, written_day

register = template.Library()


@register.filter(name="clock")
def clock_filter(moment: datetime) -> str:
    """'14 h 30' / '2:30 PM', of a time already in the clinic's zone."""
    return clock(moment, reader_language()) if moment else ""


@register.filter
def day_name(day: date) -> str:
    """'lundi 30 novembre' / 'Monday, November 30'."""
    return written_day(day, reader_language(), year=False) if day else ""


@register.filter
def long_day(day: date) -> str:
    """'samedi 28 novembre 2026' / 'Saturday, November 28, 2026'."""
    return written_day(day, reader_language()) if day else ""
