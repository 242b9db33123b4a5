"""Limits on failed attempts in the cabinet, counted in Django's cache.

Failed logins count with the API's (accounts/throttling.py): a slot is taken
before the password is checked and stays counted unless it was right. Failed
verification codes count per account, over a fixed window. Once a count is
reached, further attempts are refused before anything is checked, until the
window ends.
"""

import hashlib
import math

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext

from accounts import throttling as login_throttling


def login_blocked(request: HttpRequest, username: str) -> bool:
    """Take a slot for this login before its password is checked; True if a limit refuses it.

    One count for every way in: the cabinet shares the API's login limits. The
    attempt stays on the request: a failure keeps its slot, login_succeeded()
    gives it back, and so does accounts/middleware.py if the hasher was busy.
    """
    try:
        request.login_attempt = login_throttling.reserve_login(username, login_throttling.client_address(request))
    except login_throttling.LimitReached:
        return True
    return False


def login_failed(request: HttpRequest, username: str) -> None:
    """The slot login_blocked() took is the failure's count: nothing more to do."""


def login_succeeded(request: HttpRequest, username: str) -> None:
    """This username starts afresh from this address; failures elsewhere and for other names still count."""
    request.login_attempt.succeeded()


def reserve_signup(request: HttpRequest) -> None:
    """Take a slot in the address's sign-up count before the password is hashed; ValidationError if it is full."""
    try:
        request.signup_reservation = login_throttling.reserve_signup(login_throttling.client_address(request))
    except login_throttling.LimitReached as exc:
        minutes = math.ceil(exc.wait / 60)
        message = gettext("Too many accounts were made from this address. Try again in %(minutes)d minutes.")
        # Keyed as the form's own errors, so the sign-up page shows it above the fields.
        raise ValidationError({NON_FIELD_ERRORS: [message % {"minutes": minutes}]}) from None


def signup_failed(request: HttpRequest) -> None:
    """No account was made: the slot goes back (accounts/middleware.py does this when the hasher was busy)."""
    if (reservation := getattr(request, "signup_reservation", None)) is not None:
        reservation.give_back()


def verify_blocked(request: HttpRequest) -> bool:
    """Verification codes are short: guesses per account are limited, as in the API."""
    return _blocked(_verify_limits(request))


def verify_failed(request: HttpRequest) -> None:
    for key, _ in _verify_limits(request):
        _count(key)


def reset_blocked(request: HttpRequest, username: str) -> bool:
    """Reset links asked for per username and per address are limited, whether or not the account exists."""
    return _blocked(_reset_limits(request, username))


def reset_requested(request: HttpRequest, username: str) -> None:
    for key, _ in _reset_limits(request, username):
        _count(key)


def _reset_limits(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    digest = hashlib.sha256(login_throttling.normalize_username(username).encode("utf-8", "surrogatepass")).hexdigest()
    return [
        (f"cabinet-resets:username:{digest[:32]}", settings.PASSWORD_RESETS_PER_USERNAME),
        (f"cabinet-resets:address:{login_throttling.client_address(request)}", settings.PASSWORD_RESETS_PER_ADDRESS),
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
