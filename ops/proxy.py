"""The client's address and scheme, believed from a reverse proxy only if it is one of TRUSTED_PROXIES.

Behind nginx every connection comes from the proxy, so the login and sign-up
limits would count every client as one. This middleware runs first: when the
connection comes from a trusted proxy, REMOTE_ADDR becomes the client it
names in X-Forwarded-For (the rightmost address that is not itself a trusted
proxy, since anything left of that the client could have written), and its
X-Forwarded-Proto tells Django whether the request came over https
(SECURE_PROXY_SSL_HEADER). From anyone else those headers are removed, and a
scheme gunicorn took from them is undone: a client cannot name its own
address or make plain http pass for https.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# What clients could send to pass for a proxy; gunicorn reads the last two as well.
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PROTOCOL", "HTTP_X_FORWARDED_SSL")


def is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_address(remote_addr: str, forwarded_for: str) -> str:
    """The client a trusted proxy at `remote_addr` forwarded for, from its X-Forwarded-For."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    address = remote_addr
    # From the right: each trusted proxy names who connected to it.
    while hops and is_trusted_proxy(address):
        address = _normal(hops.pop())
    return address


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


class TrustedProxyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        if is_trusted_proxy(peer):
            meta["REMOTE_ADDR"] = client_address(peer, meta.get("HTTP_X_FORWARDED_FOR", ""))
        elif any(header in meta for header in FORWARDED):
            for header in FORWARDED:
                meta.pop(header, None)
            # gunicorn believes X-Forwarded-Proto from its own forwarded_allow_ips; the service serves
            # plain http itself (TLS ends at the proxy), so a connection not from a trusted proxy is http.
            meta["wsgi.url_scheme"] = "http"
        return self.get_response(request)
