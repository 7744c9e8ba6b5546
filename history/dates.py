"""Dates and times as each language writes them (D10), in the clinic's zone.

French as in Quebec: "mardi 3 décembre 2026 à 14 h 30" (the hour alone on
the hour: "9 h"; the spaces around "h" do not break); English: "Tuesday, December 3, 2026 at 2:30 PM".
"""

from datetime import datetime
from zoneinfo import ZoneInfo

FRENCH_DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
FRENCH_MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip
ENGLISH_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ENGLISH_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


def clock(moment: datetime, language: str) -> str:
    """'14 h 30', '9 h' / '2:30 PM', '9:00 AM'. French spaces are
    non-breaking, so that a time never splits over two lines (an SMS turns
    them into plain spaces, see sms.plain)."""
    if language == "fr":
        hour = f"{moment.hour}\u00a0h"
        return hour if moment.minute == 0 else f"{hour}\u00a0{moment.minute:02d}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def written_day(day, language: str, weekday: bool = True, year: bool = True) -> str:
    """'mardi 3 décembre 2026' / 'Tuesday, December 3, 2026' ('le 1er juillet'),
    with or without the weekday and the year."""
    if language == "fr":
        number = "1er" if day.day == 1 else str(day.day)  # "le 1er juillet"
        words = [FRENCH_DAYS[day.weekday()]] if weekday else []
        words += [number, FRENCH_MONTHS[day.month - 1]] + ([str(day.year)] if year else [])
        return " ".join(words)
    text = f"{ENGLISH_MONTHS[day.month - 1]} {day.day}" + (f", {day.year}" if year else "")
    return f"{ENGLISH_DAYS[day.weekday()]}, {text}" if weekday else text


def long_date(instant: datetime, time_zone: str, language: str) -> str:
    """The day and time of an appointment, as a patient reads it (D10)."""
    moment = instant.astimezone(ZoneInfo(time_zone))
    return f"{written_day(moment, language)} {'à' if language == 'fr' else 'at'} {clock(moment, language)}"


def staff_moment(instant: datetime, time_zone: str, language: str) -> str:
    """An instant in a sentence staff read: "3 décembre 2026 à 14 h 30"
    (after "le") / "December 3, 2026 at 2:30 PM" (after "on")."""
    moment = instant.astimezone(ZoneInfo(time_zone))
    day = written_day(moment, language, weekday=False)
    return f"{day} {'à' if language == 'fr' else 'at'} {clock(moment, language)}"


def reader_language() -> str:
    """The active language as the Hub writes it: "fr" or "en"."""
    from django.utils import translation

    return "en" if (translation.get_language() or "fr").startswith("en") else "fr"


def duration_text(delay, language: str) -> str:
    """A delay as people say it: '24 h', '2 jours' / '2 days', '90 min'."""
    minutes = int(delay.total_seconds() // 60)
    days, hours = minutes // (24 * 60), minutes // 60
    if minutes >= 48 * 60 and minutes % (24 * 60) == 0:
        return f"{days}\u00a0jours" if language == "fr" else f"{days} days"
    if minutes % 60 == 0:
        return f"{hours}\u00a0h"
    return f"{minutes}\u00a0min"
