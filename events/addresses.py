"""Where a webhook may go: http(s) to public addresses, checked when an endpoint is made and again at every send.

An endpoint's URL is the account's to choose, and the worker that POSTs to
it runs inside the operator's network: unchecked, any account could have it
reach the cloud's metadata service (169.254.169.254), the database or Redis
on localhost, or anything on a private network. An operator whose receivers
are on that network sets WEBHOOK_ALLOW_PRIVATE_ADDRESSES.

A name can resolve to one address when checked and another a moment later
(DNS rebinding), so a send does not let the HTTP client resolve it: `post`
resolves the name itself, checks every address, and connects to a checked
one. It does so by putting the address in the URL, with the name in the
Host header and, over https, in the TLS server name, against which the
certificate is verified as usual: public httpx options only, where pinning
inside a transport would mean replacing httpx's private connection pool.
"""

import functools
import ipaddress
import socket
import ssl

import certifi
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses of one name tried in turn when a connection is refused, as a browser does; no more,
# so a send stays well within the time its claim allows (events/services.py).
MAX_ADDRESSES_TRIED = 3


class AddressRefused(Exception):
    """Not an http(s) URL, or its host is, or resolves to, an address that is not public."""


class Unresolvable(Exception):
    """The host has no address now."""


def is_public(address: IPAddress) -> bool:
    """An address on the public internet: not private, shared (CGNAT), loopback, link-local, multicast, reserved,
    unspecified or site-local, nor an IPv6 form (IPv4-mapped, 6to4) of an IPv4 address that is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address.sixtofour is not None and not is_public(address.sixtofour):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def parse(url: str) -> httpx.URL:
    """The URL, if it is http(s) with a host; raises AddressRefused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise AddressRefused("Not a URL.") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise AddressRefused("Only http:// and https:// URLs with a host can receive webhooks.")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise AddressRefused("The port must be between 1 and 65535.")
    return parsed


def resolve(url: httpx.URL) -> list[IPAddress]:
    """Every address of the URL's host, in the resolver's order; raises Unresolvable."""
    host = url.raw_host.decode("ascii")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, url.port or (443 if url.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise Unresolvable(f"{host} has no address: {error}") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        # An IPv6 link-local address comes with its zone ("fe80::1%eth0").
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def refuse_unless_public(url: httpx.URL, addresses: list[IPAddress]) -> None:
    """Raises AddressRefused if any of the addresses is not public, unless the operator allows private ones."""
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    host = url.raw_host.decode("ascii")
    for address in addresses:
        if not is_public(address):
            shown = host if _is_address(host) else f"{host} resolves to {address}, which"
            raise AddressRefused(f"{shown} is not a public address; webhooks go to public addresses only.")


def check_endpoint_url(url: str) -> None:
    """Refuse an endpoint URL that is not http(s), or whose host is or resolves to an address that is not public.

    A name that does not resolve now is let through: its record may come
    later, and every send checks again. Raises AddressRefused.
    """
    parsed = parse(url)
    try:
        addresses = resolve(parsed)
    except Unresolvable:
        return
    refuse_unless_public(parsed, addresses)


def post(url: str, *, content: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST to the URL at one of its host's checked addresses, redirects not followed; returns the status code.

    The answer's body is not read. Raises AddressRefused, Unresolvable or httpx.HTTPError.
    """
    parsed = parse(url)
    addresses = resolve(parsed)
    refuse_unless_public(parsed, addresses)
    host = parsed.raw_host.decode("ascii")
    # The name as the request would have carried it; over https, the name the certificate must bear.
    headers = {**headers, "Host": parsed.netloc.decode("ascii")}
    extensions = {} if _is_address(host) else {"sni_hostname": host}
    # No proxy from the environment: a proxy would resolve the name again, and reach what it likes.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls_context()) as client:
        tried = addresses[:MAX_ADDRESSES_TRIED]
        for address in tried:
            request = client.build_request(
                "POST", parsed.copy_with(host=str(address)), content=content, headers=headers, extensions=extensions
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError:
                # Nothing was sent: the next address may take it.
                if address == tried[-1]:
                    raise
                continue
            response.close()
            return response.status_code
    raise Unresolvable(f"{host} has no address")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle for every send would cost more than the send.
    return ssl.create_default_context(cafile=certifi.where())
