"""Password hashing, at most PASSWORD_HASHING_SLOTS at once on a machine.

A PBKDF2 check takes a core for about a third of a second, and gunicorn's
sync workers each serve one request at a time: a burst of sign-ups or
logins would otherwise occupy every worker and leave health checks and
message posts waiting seconds. Each hash takes one of a few slots first,
locks on files in DATA_DIR (flock: shared by every process of the machine,
released by the kernel if a process dies). With none free it does not wait:
the request is answered 503 with Retry-After at once.

The slot is taken in the hasher, so every path that hashes is bounded: sign-up
and login in the API, the assignment's routes, HTTP Basic, the cabinet and
the admin, password changes and resets.
"""

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, PBKDF2SHA1PasswordHasher, get_hasher
from rest_framework.exceptions import APIException

_held = threading.local()


class HashingBusy(APIException):
    """Every hashing slot is taken; the API answers 503 (DRF), pages through accounts/middleware.py."""

    status_code = 503
    default_detail = "The server is busy checking other passwords; try again in a second."
    default_code = "busy"
    # DRF sends it as Retry-After.
    wait = 1


@contextmanager
def hashing_slot():
    """Hold one of the machine's hashing slots for the block; raises HashingBusy if none is free.

    The hasher takes one for each hash. A view that is about to hash may take
    it first, so that when the machine is busy hashing the request is refused
    before it costs anything else; the hasher then uses the slot it holds.
    """
    slots = settings.PASSWORD_HASHING_SLOTS
    if slots <= 0 or getattr(_held, "slot", None) is not None or not isinstance(get_hasher(), BoundedHasherMixin):
        # Unbounded (no slots, or a hasher that is not bounded, as the test suite's); or
        # this thread holds a slot already (a hash upgraded on login hashes again).
        yield
        return
    descriptor = _lock_a_slot(slots)
    if descriptor is None:
        raise HashingBusy
    _held.slot = descriptor
    try:
        yield
    finally:
        _held.slot = None
        # Closing the file releases its lock.
        os.close(descriptor)


def _lock_a_slot(slots: int) -> int | None:
    directory = Path(settings.DATA_DIR) / "hashing-slots"
    directory.mkdir(exist_ok=True)
    for number in range(slots):
        # A descriptor of its own for each try: flock locks an open file, so threads exclude each other too.
        descriptor = os.open(directory / str(number), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        return descriptor
    return None


class BoundedHasherMixin:
    """Every hash (make_password, check_password, verify, the runtime hardening) holds a slot."""

    def encode(self, password, salt, *args, **kwargs):
        with hashing_slot():
            return super().encode(password, salt, *args, **kwargs)


class BoundedPBKDF2PasswordHasher(BoundedHasherMixin, PBKDF2PasswordHasher):
    pass


class BoundedPBKDF2SHA1PasswordHasher(BoundedHasherMixin, PBKDF2SHA1PasswordHasher):
    pass
