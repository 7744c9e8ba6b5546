# One compact style for tables, lists and forms, as Quebec writes it: 2026-12-03 14 h 30.
# (Sentences use "le 3 décembre 2026 à 14 h 30": history/dates.py.)
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "G\u00a0\\h\u00a0i"
DATETIME_FORMAT = "Y-m-d G\u00a0\\h\u00a0i"
SHORT_DATETIME_FORMAT = "Y-m-d G\u00a0\\h\u00a0i"
# Forms show and read dates in the same style first (the admin's date fields
# and its calendar write the first one); the French way is still read.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
]
