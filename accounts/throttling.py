"""Failed logins, counted per username and per client address, so passwords cannot be guessed at speed.

Every way in that checks a password (the token endpoint, `/users/login`, HTTP
Basic, the cabinet's login form) calls check_login_allowed() before it runs
the password hasher, and reports the outcome with record_login_failure() or
record_login_success(). A refused attempt costs no hash and counts nothing.

The counts live in Django's shared cache (Redis when REDIS_URL is set, else a
table in the database), so every web process sees the same counts; one
counter per tenth of the window, so each failure counts for at least the
window and at most a tenth longer, and counting stays one increment (atomic
in Redis; in the table, two failures at the same instant may count once).

A successful login clears its username's count, not its address's: one
address trying many usernames stays limited however many of them it knows.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

# Each window is counted in this many parts.
TENTHS = 10


def client_address(request: HttpRequest | None) -> str:
    """The address the connection came from (behind a proxy: the proxy's)."""
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def check_login_allowed(username: str, address: str) -> float | None:
    """None if a login attempt may go ahead; else the seconds to wait before the next one."""
    now = time.time()
    width = settings.LOGIN_FAILURE_WINDOW_SECONDS / TENTHS
    current = int(now // width)
    numbers = range(current - TENTHS, current + 1)
    limits = {
        _username_key(username): settings.LOGIN_FAILURES_PER_USERNAME,
        _address_key(address): settings.LOGIN_FAILURES_PER_ADDRESS,
    }
    counts = cache.get_many([f"{key}:{number}" for key in limits for number in numbers])
    wait = 0.0
    for key, limit in limits.items():
        tenths = [counts.get(f"{key}:{number}", 0) for number in numbers]
        # The oldest tenth leaves the count at the end of the tenth after the window.
        leaving = 0
        while sum(tenths[leaving:]) >= max(limit, 1):
            leaving += 1
        if leaving:
            wait = max(wait, (current + leaving) * width - now)
    return math.ceil(wait) if wait > 0 else None


def record_login_failure(username: str, address: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    current = int(time.time() // (window / TENTHS))
    for key in (_username_key(username), _address_key(address)):
        counter = f"{key}:{current}"
        # Kept a little longer than the window, which it is counted in.
        cache.add(counter, 0, timeout=2 * window)
        try:
            cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, timeout=2 * window)


def record_login_success(username: str, address: str) -> None:
    """The password was right: its username starts afresh; the address keeps its count."""
    current = int(time.time() // (settings.LOGIN_FAILURE_WINDOW_SECONDS / TENTHS))
    key = _username_key(username)
    cache.delete_many([f"{key}:{number}" for number in range(current - TENTHS, current + 1)])


def normalize_username(username: str) -> str:
    # Usernames are unique case-insensitively; " Alice" and "alice" are one account to guess at.
    return username.strip().lower()


def _username_key(username: str) -> str:
    digest = hashlib.sha256(normalize_username(username).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login-failures:username:{digest}"


def _address_key(address: str) -> str:
    return f"login-failures:address:{address}"
