"""Limits on failed attempts in the cabinet, counted in Django's cache.

Failed logins count with the API's (accounts/throttling.py), per username
and per client address; failed verification codes per account, over a
fixed window. Once a count is reached, further attempts are refused before
anything is checked, until the window ends.
"""

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from accounts import throttling as login_throttling


def login_blocked(request: HttpRequest, username: str) -> bool:
    # One count for every way in: the cabinet shares the API's login limits.
    return login_throttling.check_login_allowed(username, login_throttling.client_address(request)) is not None


def login_failed(request: HttpRequest, username: str) -> None:
    login_throttling.record_login_failure(username, login_throttling.client_address(request))


def login_succeeded(request: HttpRequest, username: str) -> None:
    """The username's failures are forgiven; the address's are not, so guessing across names stays limited."""
    login_throttling.record_login_success(username, login_throttling.client_address(request))


def verify_blocked(request: HttpRequest) -> bool:
    """Verification codes are short: guesses per account are limited, as in the API."""
    return _blocked(_verify_limits(request))


def verify_failed(request: HttpRequest) -> None:
    for key, _ in _verify_limits(request):
        _count(key)


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
