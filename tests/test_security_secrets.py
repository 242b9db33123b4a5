"""Secrets: tokens and codes are stored hashed; the bot token never leaves; the webhook wants its secret.

The database is read directly, every table and column, for the plain
values. The bot token is looked for in every API answer (body and headers),
in every log record as logged (before the redacting filter) and in what the
console handler writes, while the Bot API fails in every way the client
knows: unreachable, timing out, dropping the connection, answering 5xx, an
error description that repeats the request path, and a crash in a view.
"""

import hashlib
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, PASSWORD, link, make_due, poll_bot, run_sweep, text_update, verification_code_in
from relaybot.models import ProcessedUpdate

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK_SECRET = "test-webhook-secret"


def database_text() -> str:
    """Every value of every table, as text."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - table names from the database
            values.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(values)


def test_api_tokens_are_stored_only_as_digests(alice):
    token = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    plain = token.json()["token"]

    stored = database_text()

    assert plain not in stored
    # knox keeps a short prefix to find the row by, and the SHA-512 of the whole token.
    assert hashlib.sha512(plain.encode()).hexdigest() in stored
    assert PASSWORD not in stored


def test_link_and_verification_codes_are_stored_only_as_hmacs(tg, alice, alice_api):
    link_code = alice_api.post("/api/v1/telegram/link/").json()["code"]
    tg.user_says(ALICE_CHAT, "hello")
    poll_bot()
    verification_code = verification_code_in(tg.sent(chat_id=ALICE_CHAT)[-1]["text"])

    stored = database_text()

    for code in (link_code, verification_code):
        assert code not in stored


# The bot token in the failures below.


@pytest.fixture
def every_log_line(caplog) -> Iterator[callable]:
    """Log records as logged (caplog, before any filter) and as the console handler writes them."""
    caplog.set_level(logging.DEBUG)
    handler = logging.getHandlerByName("console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [caplog.text, *(record.getMessage() for record in caplog.records), stream.getvalue()]
    handler.setStream(previous)


def assert_no_token(texts, token: str) -> None:
    secret = token.partition(":")[2]
    for text in texts:
        assert token not in text
        assert secret not in text


def exercise_the_api(api: APIClient) -> list[str]:
    """Everything a user does that touches the Bot API, as the texts a client receives."""
    answers = [
        api.post("/api/v1/telegram/link/"),
        api.get("/api/v1/telegram/link/"),
        api.post("/api/v1/messages/", {"text": "hello"}, format="json"),
        api.post("/message/sent", {"content": "hello"}, format="json"),
    ]
    make_due()
    run_sweep()
    answers += [api.get("/api/v1/messages/"), api.get("/message/sent"), Client().get("/readyz")]
    return [body_of(response) + json.dumps(dict(response.headers)) for response in answers]


def body_of(response) -> str:
    # `GET /message/sent` streams its answer.
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


FAILURES = {
    "dropped": {"kind": "drop", "times": -1},
    "server error": {"kind": "502", "times": -1},
    "timeout": {"kind": "slow", "delay": 0.5, "times": -1},
    "rate limited": {"kind": "429", "retry_after": 3, "times": -1},
    "blocked": {"kind": "403", "times": -1},
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_bot_token_is_in_no_answer_or_log_when_the_bot_api_fails(
    tg, settings, alice, alice_api, every_log_line, failure
):
    settings.TELEGRAM_TIMEOUT_SECONDS = 0.2
    link(alice, ALICE_CHAT)
    tg.add_fault(**FAILURES[failure])
    tg.add_fault(method="getMe", **FAILURES[failure])

    answers = exercise_the_api(alice_api)

    assert_no_token(answers + every_log_line(), settings.TELEGRAM_BOT_TOKEN)


def test_bot_token_is_in_no_answer_or_log_when_the_bot_api_is_unreachable(settings, alice, alice_api, every_log_line):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        settings.TELEGRAM_API_URL = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    link(alice, ALICE_CHAT)

    answers = exercise_the_api(alice_api)

    assert_no_token(answers + every_log_line(), settings.TELEGRAM_BOT_TOKEN)


class EchoingServer(BaseHTTPRequestHandler):
    """A server that is not the Bot API: its errors repeat the request path, token and all."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"ok": False, "error_code": 404, "description": f"No route for POST {self.path}"})
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echoing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bot_token_is_not_repeated_from_an_error_that_quotes_the_url(
    echoing_server, settings, alice, alice_api, every_log_line
):
    settings.TELEGRAM_API_URL = echoing_server
    link(alice, ALICE_CHAT)

    answers = exercise_the_api(alice_api)

    assert any("No route for POST" in answer for answer in answers)
    assert_no_token(answers + every_log_line(), settings.TELEGRAM_BOT_TOKEN)


def test_a_crash_shows_neither_the_token_nor_a_traceback(settings, alice, alice_api, monkeypatch, every_log_line):
    token = settings.TELEGRAM_BOT_TOKEN

    def crash(**kwargs):
        raise RuntimeError(f"could not reach https://api.telegram.org/bot{token}/getMe")

    monkeypatch.setattr("relay.selectors.messages_for_user", crash)
    alice_api.raise_request_exception = False

    response = alice_api.get("/api/v1/messages/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    console = every_log_line()[-1]
    assert "RuntimeError" in console
    assert_no_token([response.content.decode(), console], token)


# The webhook.


@pytest.mark.parametrize(
    "secret", [None, "", "wrong", WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x", WEBHOOK_SECRET.upper()]
)
def test_webhook_refuses_a_wrong_or_missing_secret_without_acting(tg, secret):
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}

    response = Client().post(
        "/telegram/webhook/", json.dumps(text_update(ALICE_CHAT, "hello")), "application/json", headers=headers
    )

    assert response.status_code == 403
    assert WEBHOOK_SECRET not in response.content.decode()
    assert ProcessedUpdate.objects.count() == 0
    assert tg.sent() == []


def test_webhook_is_closed_when_no_secret_is_configured(tg, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    for secret in ("", "anything"):
        response = Client().post(
            "/telegram/webhook/",
            json.dumps(text_update(ALICE_CHAT, "hello")),
            "application/json",
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        )
        assert response.status_code == 403
    assert ProcessedUpdate.objects.count() == 0
