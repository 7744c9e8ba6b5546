"""SMS length: GSM-7 or UCS-2, and how many segments a body takes.

One character outside the GSM 03.38 alphabet turns the whole SMS into UCS-2,
which holds 70 characters a segment instead of 160. French needs é, è, à,
which GSM-7 has, but not â, ê, î, ô, û, ç, ë, ï, nor typographic quotes,
dashes or the non-breaking space: `plain()` writes those the plain way,
which reads the same to a patient ("Côté" becomes "Coté").
"""

import math
import unicodedata

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"  # each takes two septets

PUNCTUATION = {
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "«": '"', "»": '"',
    "\u2013": "-", "\u2014": "-", "\u2026": "...",
}  # fmt: skip


def is_gsm(text: str) -> bool:
    return all(char in GSM_BASIC or char in GSM_EXTENDED for char in text)


def plain(text: str) -> str:
    """The text with every character GSM-7 lacks replaced by a plain one."""
    out = []
    for char in text:
        if char in GSM_BASIC or char in GSM_EXTENDED:
            out.append(char)
        elif char in PUNCTUATION:
            out.append(PUNCTUATION[char])
        else:
            base = unicodedata.normalize("NFD", char)[0]
            out.append(base if base in GSM_BASIC else char)
    return "".join(out)


def segments(text: str) -> tuple[str, int]:
    """('gsm-7' or 'ucs-2', number of segments) for a body."""
    if is_gsm(text):
        septets = sum(2 if char in GSM_EXTENDED else 1 for char in text)
        return "gsm-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs-2", 1 if units <= 70 else math.ceil(units / 67)
