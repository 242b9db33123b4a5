"""The access log never holds a secret that came in a request's address."""

import datetime
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from config.gunicorn_hooks import RedactingLogger

SECRET = "Zm9vYmFyYmF6cXV4c2VjcmV0dmFsdWUxMjM0NTY3ODk"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"/hooks/{SECRET}", ""),
        (f"/hooks/{SECRET}/alertmanager", ""),
        ("/team", f"auth={SECRET}"),
        ("/message", f"token={SECRET}&x=1"),
        ("/team", f"title=t&Auth={SECRET}"),
    ],
)
def test_the_access_log_line_has_no_secret_from_the_address(path, query):
    logger = RedactingLogger(Config())
    uri = path + (f"?{query}" if query else "")
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=2)
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, datetime.timedelta(milliseconds=3))

    line = logger.cfg.access_log_format % atoms

    assert SECRET not in line
    assert "[redacted]" in line
    assert path.split("/")[1] in line
