"""gunicorn's server hooks for the web process, loaded by gunicorn.conf.py at the project root.

A WSGI application cannot ask for its connection to be closed: gunicorn
drops a `Connection` header the application sets. When the application
answers without reading a request's body (413), the unread bytes would be
taken for the next request on a kept-alive connection, so the application
asks through `close_connection()` instead, which marks the gunicorn request
this thread is serving.
"""

import re
import threading

from gunicorn import glogging

_serving = threading.local()


def pre_request(worker, req) -> None:
    worker.log.debug("%s %s", req.method, req.path)
    _serving.request = req


def post_request(worker, req, environ, resp) -> None:
    _serving.request = None


def close_connection() -> None:
    """Have gunicorn answer this request with `Connection: close` and then close it; nothing under other servers."""
    request = getattr(_serving, "request", None)
    if request is not None:
        request.must_close = True


# Secrets some tools can only send in the address: a hook's secret in its
# path, ntfy's ?auth= and Gotify's ?token=. The access log writes addresses.
_SECRET_IN_PATH = re.compile(r"(/hooks/)[^/?#\s]+")
_SECRET_IN_QUERY = re.compile(r"((?:^|[?&])(?:auth|token)=)[^&#\s]*", re.IGNORECASE)


def redact(address: str) -> str:
    """The address with the secrets it may carry replaced by [redacted]."""
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", _SECRET_IN_PATH.sub(r"\1[redacted]", address))


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, writing no secret a request's address carried into the access log."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
