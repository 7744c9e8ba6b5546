# One compact style for tables, lists and forms: 2026-12-03 2:30 PM.
# (Sentences use "December 3, 2026 at 2:30 PM": history/dates.py.)
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "g:i A"
DATETIME_FORMAT = "Y-m-d g:i A"
SHORT_DATETIME_FORMAT = "Y-m-d g:i A"
# Forms show and read dates in the same style first (the admin's date fields
# and its calendar write the first one).
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"]
