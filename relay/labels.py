"""Destination labels: what `to` names, and what an ntfy-style topic in a URL names.

A label is therefore an ntfy topic name, and never one of the service's own
top-level routes, which a topic URL would otherwise shadow.
"""

import re
import unicodedata

LABEL_PATTERN = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
LABEL_MAX_LENGTH = 64

# The first path segments the service itself answers (config/urls.py) and a
# few kept for what it may answer later.
RESERVED_LABELS = frozenset(
    {
        "admin",
        "api",
        "app",
        "auth",
        "cabinet",
        "docs",
        "healthz",
        "hooks",
        "json",
        "login",
        "message",
        "metrics",
        "readyz",
        "redoc",
        "sse",
        "static",
        "telegram",
        "users",
        "bot",
        "v1",
        "ws",
        "raw",
        "file",
        "media",
    }
)


class LabelInvalid(ValueError):
    """The label is not a topic name, or is one the service keeps for itself."""


def check_label(label: str) -> str:
    """The label if it may name a destination; raises LabelInvalid saying why."""
    if not LABEL_PATTERN.fullmatch(label):
        raise LabelInvalid("A label is 1 to 64 letters A-Z, digits, '-' or '_'.")
    if label.lower() in RESERVED_LABELS:
        raise LabelInvalid(f"'{label}' is a name the service uses for its own pages; choose another.")
    return label


def label_from(text: str, fallback: str) -> str:
    """A valid label made from a chat's title or username: "Team Alerts!" becomes "team-alerts"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    label = re.sub(r"[^A-Za-z0-9_]+", "-", ascii_text).strip("-_").lower()[:LABEL_MAX_LENGTH].strip("-_")
    try:
        return check_label(label)
    except LabelInvalid:
        return fallback
