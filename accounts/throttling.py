"""Limits on guessing passwords and on signing up, taken before any password is hashed.

Failed logins. Every way in that checks a password (the token endpoint,
`/users/login`, HTTP Basic, the cabinet's login, which the admin's login
forwards to) takes a slot with reserve_login() *before* the hasher runs. The
slot stays counted as a failure unless the password was right
(LoginAttempt.succeeded()); a refused attempt costs no hash and counts
nothing. Three counts, each over LOGIN_FAILURE_WINDOW_SECONDS:

- per username *and* client address (LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS,
  5): the lock. Someone guessing alice's password locks out their own address,
  never alice at hers.
- per client address (LOGIN_FAILURES_PER_ADDRESS, 20): one address guessing
  across many usernames.
- per username across all addresses (LOGIN_FAILURES_PER_USERNAME, 50): many
  addresses guessing one password. An address the account has logged in from
  within KNOWN_ADDRESS_DAYS is not held to it, so even that attack does not
  lock the owner out where she usually logs in.

Sign-ups are limited per client address (SIGNUPS_PER_ADDRESS in
SIGNUP_WINDOW_SECONDS): each sign-up takes a slot before its password is
hashed and gives it back if no account was made.

The counts are ops/counters.py's: shared by every web process and machine,
and atomic, so of 40 concurrent guesses exactly the limit are checked.
"""

import hashlib
import math
import time

from django.conf import settings
from django.http import HttpRequest

from accounts.hashers import HashingBusy
from ops import counters

# How long a successful login makes its address one the account is known to log in from.
KNOWN_ADDRESS_DAYS = 30


class LimitReached(Exception):
    """Refused before anything was checked; `wait` is the seconds until the count that refused ends."""

    def __init__(self, wait: int) -> None:
        super().__init__(f"retry in {wait} s")
        self.wait = wait


def client_address(request: HttpRequest | None) -> str:
    """The client's address: the connection's, or the one a trusted proxy names (ops/proxy.py)."""
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


class Reservation:
    """Slots taken in some counts; given back if what they were taken for did not happen."""

    def __init__(self, names: list[str], now: float) -> None:
        self.names = names
        self.now = now

    def give_back(self) -> None:
        for name in self.names:
            counters.give_back(name, now=self.now)
        self.names = []


class LoginAttempt(Reservation):
    """A login that may check a password. Used as a context manager, it counts nothing if the hasher was busy."""

    def __init__(self, names: list[str], now: float, *, pair: str, known: str) -> None:
        super().__init__(names, now)
        self.pair = pair
        self.known = known

    def __enter__(self) -> "LoginAttempt":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        # Nothing was checked: the client is told to come back, and that costs no guess.
        if exc_type is not None and issubclass(exc_type, HashingBusy):
            self.give_back()

    def succeeded(self) -> None:
        """The password was right: this was no failure, and this username starts afresh from this address.

        Failures others made from elsewhere, or from this address for other
        usernames, still count.
        """
        self.give_back()
        counters.clear(self.pair)
        counters.clear(self.known)
        counters.add(self.known, KNOWN_ADDRESS_DAYS * 86400, now=self.now)


def reserve_login(username: str, address: str) -> LoginAttempt:
    """Take a slot in each failed-login count before checking a password; raises LimitReached if any is full."""
    now = time.time()
    user = _digest(normalize_username(username))
    pair = f"login-failures:pair:{_digest(user, address)}"
    known = f"login-known:{_digest(user, address)}"
    limits = [
        (f"login-failures:address:{_digest(address)}", settings.LOGIN_FAILURES_PER_ADDRESS),
        (pair, settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS),
    ]
    if not counters.get(known, now=now):
        limits.append((f"login-failures:username:{user}", settings.LOGIN_FAILURES_PER_USERNAME))
    names = _take(limits, settings.LOGIN_FAILURE_WINDOW_SECONDS, now)
    return LoginAttempt(names, now, pair=pair, known=known)


def reserve_signup(address: str) -> Reservation:
    """Take a slot in the address's sign-up count before hashing a new password; raises LimitReached if full."""
    now = time.time()
    limits = [(f"signups:address:{_digest(address)}", settings.SIGNUPS_PER_ADDRESS)]
    return Reservation(_take(limits, settings.SIGNUP_WINDOW_SECONDS, now), now)


def normalize_username(username: str) -> str:
    # Usernames are unique case-insensitively; " Alice" and "alice" are one account to guess at.
    return username.strip().lower()


def _take(limits: list[tuple[str, int]], window: int, now: float) -> list[str]:
    taken: list[str] = []
    for name, limit in limits:
        # A limit of 0 would refuse every attempt forever: it counts as 1.
        wait = counters.take(name, max(limit, 1), window, now=now)
        if wait is not None:
            Reservation(taken, now).give_back()
            raise LimitReached(max(math.ceil(wait), 1))
        taken.append(name)
    return taken


def _digest(*parts: str) -> str:
    joined = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()[:32]
