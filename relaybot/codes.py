"""Generating and hashing the one-time codes that link chats."""

import hashlib
import hmac
import secrets

from django.conf import settings

# 32 bytes of randomness: 256 bits, 43 URL-safe characters, well inside the
# 64 characters of `A-Za-z0-9_-` a deep-link payload may hold.
LINK_CODE_BYTES = 32
# Verification codes are typed by hand: 8 characters without look-alikes
# (no 0/O, 1/I/L), 40 bits, short-lived and throttled where redeemed.
VERIFICATION_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
VERIFICATION_LENGTH = 8


def new_link_code() -> str:
    return secrets.token_urlsafe(LINK_CODE_BYTES)


def new_verification_code() -> str:
    return "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(VERIFICATION_LENGTH))


def normalize_verification_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def hash_code(code: str) -> str:
    # Keyed, so a copy of the database alone cannot be searched for codes.
    return hmac.new(settings.SECRET_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()
