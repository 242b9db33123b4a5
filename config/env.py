"""Settings read from the environment.

Shared by config/settings.py and gunicorn.conf.py, which gunicorn loads
before Django, so that both read a setting alike and from one default.
"""

import os


def envbool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    """A whole number; unset or empty is the default."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def web_threads() -> int:
    """Requests a web process runs at once (config/turns.py)."""
    return envint("WEB_THREADS", 1)


def wait_slots() -> int:
    """Requests a web process lets wait for an answer (`?wait=`) besides them, each on a thread of its own."""
    return envint("WAIT_SLOTS", 0)
