"""What the server refuses in request strings, as JSON Schema keywords for the OpenAPI schema.

Each rule here restates one the server enforces, computed from the same
source (DRF's CharField, Django's password validators, the verification code
alphabet, the message text rule), so that a client generating requests from
the schema, schemathesis among them, sends only what the server accepts.
"""

import functools
import sys

from django.contrib.auth import password_validation
from django.contrib.auth.password_validation import MinimumLengthValidator, NumericPasswordValidator

from relay.validation import is_invisible
from relaybot.codes import VERIFICATION_ALPHABET, VERIFICATION_LENGTH

__all__ = ["code_points_class", "new_password", "no_nul", "not_blank", "verification_code", "visible_text"]


def code_points_class(codes) -> str:
    """The body of a regex character class for ascending code points, as ranges."""
    parts, start, previous = [], None, None
    for code in codes:
        if start is None:
            start = previous = code
        elif code == previous + 1:
            previous = code
        else:
            parts.append((start, previous))
            start = previous = code
    if start is not None:
        parts.append((start, previous))
    return "".join(_escape(low) if low == high else f"{_escape(low)}-{_escape(high)}" for low, high in parts)


def _escape(code: int) -> str:
    # Beyond the BMP the character itself: ECMA-262 (the `regex` format) spells it \u{...}, which Python's
    # re refuses, and Python's \U........ is no ECMA-262 escape; every engine reads the character.
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


@functools.cache
def _matching(predicate) -> str:
    """A character class body of every character for which `predicate` is true (built once, over all of Unicode)."""
    return code_points_class(code for code in range(sys.maxunicode + 1) if predicate(chr(code)))


def _no_nul_and_one_not_in(excluded: str) -> dict:
    """No NUL anywhere, and at least one character outside the class body `excluded`.

    Two patterns, not one: anchored `^[^\\u0000]*[^...][^\\u0000]*$` says the
    same, but a generator bounding it by maxLength makes a regex too large.
    """
    return {"allOf": [no_nul(), {"pattern": f"[^\\u0000{excluded}]"}]}


def no_nul() -> dict:
    # DRF's CharField refuses NUL characters in any string.
    return {"pattern": "^[^\\u0000]*$"}


def not_blank() -> dict:
    """A CharField that trims whitespace and may not be blank: some character that str.strip() keeps."""
    return _no_nul_and_one_not_in(_matching(str.isspace))


def visible_text() -> dict:
    """A message text: no NUL, and a character a reader sees (relay/validation.py)."""
    return _no_nul_and_one_not_in(_matching(is_invisible))


def new_password() -> dict:
    """Django's password validators, those a schema can state; the others are described."""
    validators = password_validation.get_default_password_validators()
    if any(isinstance(validator, NumericPasswordValidator) for validator in validators):
        # Refused when str.isdigit(): superscripts and other digits count, not only 0-9.
        schema = _no_nul_and_one_not_in(_matching(str.isdigit))
    else:
        schema = no_nul()
    for validator in validators:
        if isinstance(validator, MinimumLengthValidator):
            schema["minLength"] = validator.min_length
    schema["description"] = (
        f"At least {schema.get('minLength', 1)} characters, not all digits, not a commonly used password, "
        "not too similar to the username or name."
    )
    return schema


def verification_code() -> dict:
    """The code the bot hands out: its letters and digits in any case, spaces and hyphens between them ignored."""
    letters = "".join(sorted(set(VERIFICATION_ALPHABET + VERIFICATION_ALPHABET.lower())))
    return {
        "pattern": f"^[ -]*(?:[{letters}][ -]*){{{VERIFICATION_LENGTH}}}$",
        "description": f"The {VERIFICATION_LENGTH}-character code the bot sent you, e.g. `ABCD-2345`.",
    }
