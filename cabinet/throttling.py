"""Limits on failed attempts in the cabinet, counted in Django's cache.

Failed logins are counted per username and per client address, failed
verification codes per account, each over a fixed window. Once a count is
reached, further attempts are refused before anything is checked, until the
window ends.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def login_blocked(request: HttpRequest, username: str) -> bool:
    return _blocked(_login_limits(request, username))


def login_failed(request: HttpRequest, username: str) -> None:
    for key, _ in _login_limits(request, username):
        _count(key)


def login_succeeded(request: HttpRequest, username: str) -> None:
    """The username's failures are forgiven; the address's are not, so guessing across names stays limited."""
    cache.delete(_login_limits(request, username)[0][0])


def verify_blocked(request: HttpRequest) -> bool:
    """Verification codes are short: guesses per account are limited, as in the API."""
    return _blocked(_verify_limits(request))


def verify_failed(request: HttpRequest) -> None:
    for key, _ in _verify_limits(request):
        _count(key)


def _login_limits(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    # Hashed: usernames are user input, and cache keys have a limited alphabet.
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    address = request.META.get("REMOTE_ADDR", "")
    return [
        (f"cabinet-login-failures:user:{name}", settings.CABINET_LOGIN_FAILURES_PER_USERNAME),
        (f"cabinet-login-failures:addr:{address}", settings.CABINET_LOGIN_FAILURES_PER_ADDRESS),
    ]


def _verify_limits(request: HttpRequest) -> list[tuple[str, int]]:
    return [(f"cabinet-verify-failures:{request.user.pk}", settings.CABINET_VERIFY_FAILURES)]


def _blocked(limits: list[tuple[str, int]]) -> bool:
    counts = cache.get_many([key for key, _ in limits])
    return any(counts.get(key, 0) >= limit for key, limit in limits)


def _count(key: str) -> None:
    # add() starts the window; incr() keeps its expiry.
    if cache.add(key, 1, settings.CABINET_FAILURE_WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:
        # Expired between add() and incr(): a new window.
        cache.add(key, 1, settings.CABINET_FAILURE_WINDOW_SECONDS)
