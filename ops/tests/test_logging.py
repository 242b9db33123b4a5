"""Log lines are JSON objects with the record's extra fields, and never hold the bot token."""

import io
import json
import logging

import pytest


@pytest.fixture
def console():
    """What the configured console handler writes, one parsed JSON object a line."""
    handler = logging.getHandlerByName("console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    lines = []

    def read() -> list[dict]:
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())
        stream.seek(0)
        stream.truncate()
        return lines

    yield read
    handler.setStream(previous)


def test_a_log_line_is_one_json_object_with_the_extra_fields(console):
    logging.getLogger("relay.delivery").info(
        "message %s sent", 42, extra={"message_id": 42, "chat": 1001, "outcome": "sent"}
    )

    [entry] = console()
    assert set(entry) == {"time", "level", "logger", "message", "message_id", "chat", "outcome"}
    assert entry["level"] == "INFO"
    assert entry["logger"] == "relay.delivery"
    assert entry["message"] == "message 42 sent"
    assert (entry["message_id"], entry["chat"], entry["outcome"]) == (42, 1001, "sent")
    assert entry["time"].endswith("+00:00")


def test_an_exception_and_unusual_extra_values_stay_on_one_line(console):
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("ops").exception("multi\nline", extra={"when": object(), "text": "Привет"})

    [entry] = console()
    assert entry["message"] == "multi\nline"
    assert "ValueError: bad" in entry["exc_info"]
    assert entry["text"] == "Привет"
    assert entry["when"].startswith("<object object")


def test_the_bot_token_is_redacted_wherever_a_record_holds_it(console, settings):
    token = settings.TELEGRAM_BOT_TOKEN
    url = f"https://api.telegram.org/bot{token}/sendMessage"
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        logging.getLogger("relay.delivery").exception("calling %s", url, extra={"url": url})
    logging.getLogger("telegram").warning("encoded: bot%s", token.replace(":", "%3A"))

    written = console()
    assert len(written) == 2
    raw = json.dumps(written)
    assert token.partition(":")[2] not in raw
    assert written[0]["message"] == "calling https://api.telegram.org/bot123456:[redacted]/sendMessage"
    assert "bot123456:[redacted]/sendMessage" in written[0]["exc_info"]
    assert written[0]["url"] == "https://api.telegram.org/bot123456:[redacted]/sendMessage"
    assert written[1]["message"] == "encoded: bot123456%3A[redacted]"


def test_the_huey_logger_writes_through_the_same_redacting_handler(console, settings):
    logging.getLogger("huey").warning("task failed for %s", settings.TELEGRAM_BOT_TOKEN)

    [entry] = console()
    assert entry["logger"] == "huey"
    assert entry["message"] == "task failed for 123456:[redacted]"


def test_http_client_loggers_stay_quiet_below_warning():
    # httpx logs each request URL at INFO, and Bot API URLs hold the token.
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
