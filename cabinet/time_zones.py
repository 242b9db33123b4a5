"""The reader's time zone: the cabinet shows every time in it, with its name.

The profile's setting wins; without one, the browser's zone, which
cabinet/static/cabinet/timezone.js keeps in a cookie; without that (the very
first page, or no JavaScript), UTC. The API is not concerned: it always
answers in ISO 8601 UTC.
"""

import re
import zoneinfo
from functools import cache

from django.http import HttpRequest

COOKIE = "tz"
DEFAULT = "UTC"
# What a zone name is made of; checked before the set of known zones is consulted.
ZONE_NAME = re.compile(r"[A-Za-z0-9_+/-]{1,64}")


@cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_zone(name: str) -> bool:
    return bool(ZONE_NAME.fullmatch(name)) and name in zone_names()


def browser_zone(request: HttpRequest) -> str | None:
    """The zone the browser reported, if it is one we know."""
    name = request.COOKIES.get(COOKIE, "")
    return name if is_zone(name) else None


def reader_zone(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and is_zone(user.time_zone):
        return user.time_zone
    return browser_zone(request) or DEFAULT
