"""Secure cookies: on when the service is reached over HTTPS outside DEBUG, off for `make run`'s plain http."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({}, "False False"),
        ({"HTTPS": "1"}, "True True"),
        ({"HTTPS": "1", "DEBUG": "1"}, "False False"),
    ],
)
def test_cookies_are_secure_only_over_https_outside_debug(tmp_path, env, secure):
    clean = {key: value for key, value in os.environ.items() if key not in ("HTTPS", "DEBUG")}
    clean.update(env, DATA_DIR=str(tmp_path))
    script = (
        "from config import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [*secure.split(), "True"]
