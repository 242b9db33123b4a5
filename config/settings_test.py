"""Settings for the test suite: fast hashing, the queue run in-process."""

from config.settings import *  # noqa: F403
from config.settings import HUEY

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = {**HUEY, "immediate": True}
TELEGRAM_BOT_TOKEN = "123456:TEST-TOKEN-never-logged"
TELEGRAM_BOT_USERNAME = ""
TELEGRAM_WEBHOOK_SECRET = "test-webhook-secret"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"login": "1000/min", "verify": "1000/min"},
}
