# One compact style for tables and lists: 2026-12-03 2:30 PM.
# (Sentences use "December 3, 2026 at 2:30 PM": confirmations/dates.py.)
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "g:i A"
DATETIME_FORMAT = "Y-m-d g:i A"
SHORT_DATETIME_FORMAT = "Y-m-d g:i A"
