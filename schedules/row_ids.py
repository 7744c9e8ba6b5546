"""Row ids typed in URLs and forms, by staff or patients: read before any
query, so that nonsense finds nothing instead of overflowing the database."""

BIGGEST_ID = 2**63 - 1  # a bigint primary key


def row_id(value) -> int | None:
    """A primary key typed in a URL, or None for anything that cannot be
    one ("abc", "1.5", 23 digits): looked up, those fail in the database."""
    text = str(value or "")
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= BIGGEST_ID else None
