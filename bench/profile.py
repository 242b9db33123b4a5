"""Where one accepted message's CPU time goes: each step of `POST /api/v1/messages/`, timed alone.

Run in a fresh DATA_DIR on the embedded default, in one process and one
thread (Django's test client, no HTTP server), so the figures are CPU time of
the step itself, without the server, the network or the other processes that
`bench/run.py` measures. Prints one JSON object: step -> CPU milliseconds.

    DATA_DIR=$(mktemp -d) python -m bench.profile
"""

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("TELEGRAM_BOT_TOKEN", "424242:benchmark-token-not-secret")
os.environ.setdefault("TELEGRAM_API_URL", "http://127.0.0.1:9")
os.environ.setdefault("TELEGRAM_BOT_USERNAME", "tgrelay_bench_bot")
os.environ.setdefault("MESSAGES_PER_MINUTE", "1000000")


def cpu_ms(step: Callable[[], object], repeat: int = 300, rounds: int = 5) -> float:
    """The least CPU time of one call over a few rounds: the step's own cost, least disturbed."""
    for _ in range(30):
        step()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(repeat):
            step()
        best = min(best, (time.process_time() - started) / repeat)
    return best * 1000


def main() -> None:
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.authentication import BearerTokenAuthentication, CachedBasicAuthentication
    from accounts.models import User
    from accounts.services import issue_token
    from relay import selectors, services
    from relay.models import Destination, Message
    from relay.serializers import AcceptedOutput
    from relay.throttling import WINDOW

    call_command("migrate", verbosity=0)
    user = User.objects.create(username="profile", name="Profile")
    user.set_password("profile passphrase 1")
    user.save()
    Destination.objects.create(user=user, label="me", kind="private", chat_id=700_001, is_default=True)
    _, token = issue_token(user=user)
    client = Client()
    body = json.dumps({"text": "benchmark message"})
    bearer = BearerTokenAuthentication()
    basic = CachedBasicAuthentication()
    basic.authenticate_credentials("profile", "profile passphrase 1")
    # The account as authentication hands it to the view: its default destination comes with it.
    sender, _ = bearer.authenticate_credentials(token.encode())
    message = Message.objects.first() or services.enqueue_message(user=sender, text="first")

    def reconnect_and_look_up() -> None:
        connection.close()
        Destination.objects.filter(user=user, is_default=True).first()

    steps = {
        "whole request (test client)": lambda: client.post(
            "/api/v1/messages/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        ),
        "GET /healthz (Django and middleware only)": lambda: client.get("/healthz"),
        "Bearer authentication (one query: token, account, scope, default destination)": (
            lambda: bearer.authenticate_credentials(token.encode())
        ),
        "Basic authentication, cached": lambda: basic.authenticate_credentials("profile", "profile passphrase 1"),
        "per-account quota (COUNT in SQL)": lambda: selectors.message_count_since(
            user_id=user.pk, since=timezone.now() - WINDOW
        ),
        "the same COUNT through the ORM": lambda: Message.objects.filter(
            user=user, created_at__gt=timezone.now() - WINDOW
        ).count(),
        "store and enqueue (enqueue_message)": lambda: services.enqueue_message(user=sender, text="benchmark"),
        "the default destination in a SELECT of its own (what authentication saves)": lambda: (
            Destination.objects.filter(user=user, is_default=True).first()
        ),
        "response serializer": lambda: AcceptedOutput(message).data,
        "destination lookup on a new SQLite connection (what CONN_MAX_AGE saves)": reconnect_and_look_up,
    }
    print(json.dumps({name: round(cpu_ms(step), 3) for name, step in steps.items()}))


if __name__ == "__main__":
    main()
