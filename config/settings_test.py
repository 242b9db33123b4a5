"""Settings for the test suite: fast hashing, the queue run in-process."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import HUEY

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = {**HUEY, "immediate": True}
TELEGRAM_BOT_TOKEN = "123456:TEST-TOKEN-never-logged"
TELEGRAM_BOT_USERNAME = ""
TELEGRAM_WEBHOOK_SECRET = "test-webhook-secret"
TELEGRAM_DEMO = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"login": "1000/min", "verify": "1000/min"},
}
# Pacing has tests of its own; elsewhere a chat may receive back to back.
DELIVERY_CHAT_INTERVAL_SECONDS = 0
DELIVERY_GLOBAL_RATE = 1000
MESSAGES_PER_MINUTE = 10_000
# This run's metrics files, away from DATA_DIR, where a running `make run` would serve them.
PROMETHEUS_MULTIPROC_DIR = Path(tempfile.mkdtemp(prefix="tgrelay-test-metrics-"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)
atexit.register(shutil.rmtree, PROMETHEUS_MULTIPROC_DIR, ignore_errors=True)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file rather than memory: the browser tests' live server answers from
    # several threads, and an in-memory database is one connection they share.
    _test_db_dir = Path(tempfile.mkdtemp(prefix="tgrelay-test-db-"))
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db_dir / "test.sqlite3")}  # noqa: F405
    atexit.register(shutil.rmtree, _test_db_dir, ignore_errors=True)
