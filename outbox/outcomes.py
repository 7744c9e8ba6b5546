"""What a provider's answer means for a message (D15: at most once).

Every channel reports a failure as a `TransportError` carrying one of four
outcomes, decided from what the provider actually said, or from *when* the
exchange broke:

- TEMPORARY: the provider did not take the message (a connection refused, a
  greylisting 451, a 429): sending again later is safe, and the dispatcher
  retries while the message is still true (D4).
- BAD_ADDRESS: the address or number itself is unusable (a 550 5.1.1 user
  unknown, a full mailbox, an invalid or opted-out number): the same
  communication goes once to the patient's next contact (R19).
- REFUSED: this message is refused for good (a policy or content refusal):
  failed, with the provider's own reason.
- UNKNOWN: the exchange broke after the body may have reached the provider
  (after SMTP DATA was accepted, after an HTTP request went out): never sent
  again automatically, shown to staff, who may send it again by hand.
"""

import re
import ssl

import requests
import urllib3

TEMPORARY, BAD_ADDRESS, REFUSED, UNKNOWN = "temporary", "bad_address", "refused", "unknown"


class TransportError(Exception):
    def __init__(self, reason: str, outcome: str = TEMPORARY):
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome
        # The number replied STOP to the provider: remembered as an OptOut.
        self.opted_out = False

    def __repr__(self) -> str:
        return f"TransportError({self.reason!r}, {self.outcome!r})"


# --- SMTP -------------------------------------------------------------------

ENHANCED_CODE = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def smtp_reply(code: int, text: bytes | str) -> str:
    """The server's own words, for staff: '550 5.1.1 User unknown'."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {' '.join(text.split())}".strip()


def smtp_refusal(code: int, text: bytes | str, at_recipient: bool) -> str:
    """The outcome of a server's refusal at RCPT TO or at the end of DATA.

    4xx is always temporary (greylisting, rate limits, a full disk). A 5xx at
    RCPT TO concerns that recipient only: the address is unusable, whatever
    its enhanced code (Office 365 says 5.4.1 for a mailbox that does not
    exist). At DATA, the enhanced status code (RFC 3463) tells an address
    problem (5.1.x: no such user or domain; 5.2.x: mailbox disabled or full)
    from a refusal of the message itself (5.7.x policy, 5.6.x content, 5.3.x
    size); without one, 550, 551 and 553 name the mailbox."""
    if 400 <= code < 500:
        return TEMPORARY
    if at_recipient:
        return BAD_ADDRESS
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    enhanced = ENHANCED_CODE.match(text)
    if enhanced:
        return BAD_ADDRESS if enhanced.group(2) in ("1", "2") else REFUSED
    return BAD_ADDRESS if code in (550, 551, 553) else REFUSED


# --- HTTP APIs (Twilio, anymail's providers) ---------------------------------

# The provider says it did not take the request (too many, not now), or the
# Hub's own credentials were refused (a configuration to fix, nothing lost
# meanwhile): sending again later is safe. A 502 or 504 is not here: the
# gateway gave up, but the provider behind it may have taken the request.
HTTP_TRY_LATER = {401, 403, 408, 425, 429, 503}


def never_left(error: BaseException) -> bool:
    """True when a requests error happened before the request was sent: the
    connection could not be opened (refused, no route, name not found, a
    certificate refused, connect timeout). A read timeout, a connection
    dropped or a TLS error while waiting for the answer may follow a request
    the provider took."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError) and not isinstance(
        error, requests.exceptions.ReadTimeout
    ):
        reason = error.args[0] if error.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        if isinstance(error, requests.exceptions.SSLError):
            # Only a refused certificate surely comes before the request.
            reason = reason.args[0] if isinstance(reason, urllib3.exceptions.SSLError) and reason.args else reason
            return isinstance(reason, ssl.SSLCertVerificationError)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def http_failure(error: requests.RequestException, provider: str) -> TransportError:
    if never_left(error):
        return TransportError(f"{provider} {type(error).__name__}", TEMPORARY)  # never left
    return TransportError(f"{provider} {type(error).__name__} after sending", UNKNOWN)  # it may have been taken


def http_status(status: int | None, provider: str, detail: str = "") -> TransportError:
    """An HTTP error answer, other than a recognised refusal of the address."""
    reason = f"{provider} HTTP {status}" + (f" {detail}" if detail else "")
    if status in HTTP_TRY_LATER:
        return TransportError(reason, TEMPORARY)
    if status is not None and 400 <= status < 500:
        return TransportError(reason, REFUSED)
    # A 500 may come after the provider stored the message.
    return TransportError(reason, UNKNOWN)
