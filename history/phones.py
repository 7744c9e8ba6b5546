"""Phone numbers as people write them."""

import phonenumbers


def spoken_phone(e164: str) -> str:
    """The clinic's number as written in Quebec: 514 555-0100."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, "CA")
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    # libphonenumber writes (514) 555-0100; Quebec usage drops the brackets.
    return national.replace("(", "").replace(") ", " ")
