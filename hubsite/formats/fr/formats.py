# One compact style for tables and lists, as Quebec writes it: 2026-12-03 14 h 30.
# (Sentences use "le 3 décembre 2026 à 14 h 30": confirmations/dates.py.)
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "G\u00a0\\h\u00a0i"
DATETIME_FORMAT = "Y-m-d G\u00a0\\h\u00a0i"
SHORT_DATETIME_FORMAT = "Y-m-d G\u00a0\\h\u00a0i"
