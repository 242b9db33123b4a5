"""Which paths are ntfy topics: read by the URLconf and by the request-size limit before Django is set up.

A topic is a destination's label ([-_A-Za-z0-9]{1,64}, relay/labels.py). The
service's own first path segments are reserved labels, so they are left out
here: `/cabinet` and `/admin` keep redirecting to their pages with a slash.
"""

import re

from relay.labels import RESERVED_LABELS

_RESERVED = "|".join(sorted(RESERVED_LABELS))
# For re_path(): the path without its leading slash.
TOPIC_ROUTE = rf"^(?!(?i:{_RESERVED})$)(?P<topic>[-_A-Za-z0-9]{{1,64}})$"
TOPIC_PATH = re.compile(TOPIC_ROUTE.replace("^", "^/", 1))
# Where a file may be uploaded (`PUT /<topic>`, or POST with a filename): the request-size limit makes room for it.
UPLOAD_METHODS = ("PUT", "POST")


def is_upload(method: str, path: str) -> bool:
    return method in UPLOAD_METHODS and TOPIC_PATH.match(path) is not None


def too_large(limit: int) -> dict:
    """ntfy's answer to a body over the limit, in its error shape."""
    return {"code": 41301, "http": 413, "error": f"attachment too large: at most {limit} bytes"}
