"""The Bot API client against the simulated Telegram: results, errors, and a bot token that never leaks."""

import logging
import socket
import traceback

import pytest
from django.conf import settings

from conftest import ALICE_CHAT, text_update
from fakegram.server import FakeTelegram
from relaybot.bot import handle_update
from relaybot.client import BotClient, TelegramError, TelegramNetworkError, get_bot

TOKEN = "123456:TEST-TOKEN-never-logged"
SUPERGROUP = -1001234567890


@pytest.fixture
def bot(tg) -> BotClient:
    client = BotClient(TOKEN, tg.url, timeout=5)
    yield client
    client.close()


def error_of(call) -> TelegramError:
    with pytest.raises(TelegramError) as caught:
        call()
    return caught.value


def test_test_settings_use_the_token_these_tests_look_for():
    assert settings.TELEGRAM_BOT_TOKEN == TOKEN


def test_get_me(bot):
    me = bot.get_me()

    assert me["username"] == "relay_test_bot"
    assert me["is_bot"] is True


def test_send_message_sends_the_text_exactly_as_given(tg, bot):
    text = "Line one\n<b>not bold</b> & *not* _italic_ 🎉"

    result = bot.send_message(ALICE_CHAT, text)

    [sent] = tg.sent(chat_id=ALICE_CHAT)
    assert sent["text"] == text
    assert "parse_mode" not in sent
    assert result["message_id"] == sent["message_id"]
    assert result["text"] == text


def test_get_updates_returns_updates_and_an_offset_confirms_them(tg, bot):
    first = tg.user_says(ALICE_CHAT, "one")
    second = tg.user_says(ALICE_CHAT, "two")

    updates = bot.get_updates(None, timeout=0)

    assert [u["update_id"] for u in updates] == [first, second]
    assert updates[0]["message"]["text"] == "one"
    assert updates[0]["message"]["chat"] == {"id": ALICE_CHAT, "first_name": "Alice", "type": "private"}
    assert [u["update_id"] for u in bot.get_updates(second, timeout=0)] == [second]
    assert bot.get_updates(second + 1, timeout=0) == []


def test_webhook_methods(tg, bot):
    assert bot.set_webhook("https://relay.example.com/telegram/webhook/", "s3cret") is True
    assert bot.get_webhook_info()["url"] == "https://relay.example.com/telegram/webhook/"

    # Telegram refuses to poll while a webhook is set.
    assert error_of(lambda: bot.get_updates(None, timeout=0)).error_code == 409

    assert bot.delete_webhook() is True
    assert bot.get_webhook_info()["url"] == ""


def test_too_many_requests_carries_retry_after(tg, bot):
    tg.add_fault(kind="429", retry_after=7)

    error = error_of(lambda: bot.send_message(ALICE_CHAT, "hi"))

    assert error.error_code == 429
    assert error.retry_after == 7
    assert error.description.startswith("Too Many Requests")
    assert error.migrate_to_chat_id is None
    assert not isinstance(error, TelegramNetworkError)
    assert tg.sent() == []


@pytest.mark.parametrize("kind", ["500", "502"])
def test_server_errors_are_transient(tg, bot, kind):
    tg.add_fault(kind=kind)

    error = error_of(lambda: bot.send_message(ALICE_CHAT, "hi"))

    assert error.error_code == int(kind)
    assert error.description
    assert error.retry_after is None
    assert error.is_transient
    assert not error.chat_unreachable


def test_blocked_chat_is_unreachable_and_not_transient(tg, bot):
    tg.block(ALICE_CHAT)

    error = error_of(lambda: bot.send_message(ALICE_CHAT, "hi"))

    assert error.error_code == 403
    assert error.description == "Forbidden: bot was blocked by the user"
    assert error.chat_unreachable
    assert not error.is_transient


def test_chat_not_found_is_unreachable_and_not_transient(tg, bot):
    tg.add_fault(kind="chat_not_found")

    error = error_of(lambda: bot.send_message(ALICE_CHAT, "hi"))

    assert error.error_code == 400
    assert error.description == "Bad Request: chat not found"
    assert error.chat_unreachable
    assert not error.is_transient


def test_other_bad_requests_are_neither_transient_nor_unreachable(tg, bot):
    error = error_of(lambda: bot.call("sendMessage", {"chat_id": ALICE_CHAT, "text": "<b>", "parse_mode": "HTML"}))

    assert error.error_code == 400
    assert "can't parse entities" in error.description
    assert not error.is_transient
    assert not error.chat_unreachable


def test_migration_carries_the_new_chat_id(tg, bot):
    tg.add_fault(kind="migrate", migrate_to_chat_id=SUPERGROUP)

    error = error_of(lambda: bot.send_message(-4001, "hi"))

    assert error.error_code == 400
    assert error.migrate_to_chat_id == SUPERGROUP
    assert error.parameters == {"migrate_to_chat_id": SUPERGROUP}
    assert error.retry_after is None


def test_unknown_method_is_404(bot):
    error = error_of(lambda: bot.call("sendTelepathy"))

    assert error.error_code == 404
    assert error.is_transient


def test_wrong_token_is_401():
    with FakeTelegram(token="999:right-token", bot_username="strict_bot") as strict:
        client = BotClient("999:wrong-token", strict.url, timeout=5)
        try:
            error = error_of(client.get_me)
        finally:
            client.close()

    assert error.error_code == 401
    assert error.description == "Unauthorized"
    assert "wrong-token" not in str(error)


def test_dropped_connection_is_a_network_error(tg, bot):
    tg.add_fault(kind="drop", method="getMe")

    with pytest.raises(TelegramNetworkError) as caught:
        bot.get_me()

    error = caught.value
    assert error.error_code is None
    assert error.retry_after is None
    assert error.is_transient
    assert not error.chat_unreachable
    # The client recovers on the next call.
    assert bot.get_me()["username"] == "relay_test_bot"


def test_timeout_is_a_network_error(tg):
    tg.add_fault(kind="slow", method="getMe", delay=5)
    impatient = BotClient(TOKEN, tg.url, timeout=0.2)
    try:
        with pytest.raises(TelegramNetworkError) as caught:
            impatient.get_me()
    finally:
        impatient.close()

    assert "timed out" in str(caught.value)


def test_refused_connection_is_a_network_error():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    client = BotClient(TOKEN, f"http://127.0.0.1:{port}", timeout=2)
    try:
        with pytest.raises(TelegramNetworkError):
            client.get_me()
    finally:
        client.close()


def test_answer_that_is_not_the_bot_api_is_an_error(tg):
    # Everything under /_control/ answers the simulator's own JSON, not Bot API bodies.
    client = BotClient(TOKEN, f"{tg.url}/_control", timeout=5)
    try:
        error = error_of(client.get_me)
    finally:
        client.close()

    assert error.error_code == 404


def test_get_bot_reuses_one_client_per_configuration(tg, settings):
    first = get_bot()
    assert get_bot() is first
    assert first.get_me()["username"] == "relay_test_bot"

    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"

    assert get_bot() is not first


# The bot token is in every request URL; it must never reach an exception or a log record.

FAILURES = {
    "dropped": {"kind": "drop"},
    # A stalled call is still answered once its delay is over, so it stalls
    # getMe, which leaves nothing behind to show up in a later test.
    "timeout": {"kind": "slow", "delay": 3, "method": "getMe"},
    "server error": {"kind": "502"},
    "rate limit": {"kind": "429", "retry_after": 3},
    "blocked": {"kind": "403"},
    "migrated": {"kind": "migrate", "migrate_to_chat_id": SUPERGROUP},
}
REPLY_FAILURES = {name: rule for name, rule in FAILURES.items() if rule.get("method") != "getMe"}


def call_that_fails(client: BotClient, rule: dict):
    return client.get_me() if rule.get("method") == "getMe" else client.send_message(ALICE_CHAT, "hi")


def assert_token_absent(texts) -> None:
    for text in texts:
        assert TOKEN not in text
        assert "TEST-TOKEN" not in text


@pytest.mark.parametrize("failure", list(FAILURES))
def test_token_is_not_in_a_failed_calls_exception_or_logs(tg, caplog, failure):
    caplog.set_level(logging.DEBUG)
    tg.add_fault(**FAILURES[failure])
    client = BotClient(TOKEN, tg.url, timeout=0.5)
    try:
        error = error_of(lambda: call_that_fails(client, FAILURES[failure]))
    finally:
        client.close()

    assert_token_absent([str(error), repr(error), error.description, "".join(traceback.format_exception(error))])
    assert_token_absent([caplog.text] + [record.getMessage() for record in caplog.records])


def test_token_is_not_in_a_failed_connection_exception(caplog):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    client = BotClient(TOKEN, f"http://127.0.0.1:{port}", timeout=2)
    try:
        error = error_of(client.get_me)
    finally:
        client.close()

    assert_token_absent([str(error), repr(error), "".join(traceback.format_exception(error)), caplog.text])


@pytest.mark.django_db
@pytest.mark.parametrize("failure", list(REPLY_FAILURES))
def test_token_is_not_logged_when_the_bot_cannot_reply(tg, caplog, failure):
    caplog.set_level(logging.DEBUG)
    tg.add_fault(**REPLY_FAILURES[failure])

    handle_update(text_update(ALICE_CHAT, "hello"))

    assert tg.sent() == []
    assert any(record.levelno >= logging.WARNING for record in caplog.records)
    assert_token_absent([caplog.text] + [record.getMessage() for record in caplog.records])
