"""The client's IP address, correct behind the Hub's own proxies."""

import ipaddress

from django.conf import settings

# The address of every request that comes without a usable one. A WSGI server
# listening on a unix socket gives an empty REMOTE_ADDR: all such requests are
# counted together, as one client, by the patient pages' rate limit. Behind a
# proxy that talks to the Hub over a unix socket, set TRUSTED_PROXIES so the
# client's own address (from X-Forwarded-For) is used instead.
NO_ADDRESS = "0.0.0.0"


def client_ip(request) -> str:
    proxies = settings.TRUSTED_PROXIES
    address = request.META.get("REMOTE_ADDR", "")
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(without_port(address)))
    except ValueError:
        return NO_ADDRESS


def without_port(address: str) -> str:
    """Some proxies write the client's port too: "1.2.3.4:5678", "[2001:db8::1]:5678"."""
    if address.startswith("[") and "]" in address:
        return address[1 : address.index("]")]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address
