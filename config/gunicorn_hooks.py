"""gunicorn's server hooks for the web process, loaded by gunicorn.conf.py at the project root.

A WSGI application cannot ask for its connection to be closed: gunicorn
drops a `Connection` header the application sets. When the application
answers without reading a request's body (413), the unread bytes would be
taken for the next request on a kept-alive connection, so the application
asks through `close_connection()` instead, which marks the gunicorn request
this thread is serving.
"""

import threading

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
