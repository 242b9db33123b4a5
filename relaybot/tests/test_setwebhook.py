"""manage.py setwebhook: against the simulated Telegram, and end to end through a live web server."""

import io
import re
import time

import httpx
import pytest
from django.core.management import CommandError, call_command

from conftest import ALICE_CHAT, verification_code_in

pytestmark = pytest.mark.django_db

PUBLIC = "https://relay.example.com"
HOOK = "https://relay.example.com/telegram/webhook/"
SECRET_LINE = re.compile(r"^TELEGRAM_WEBHOOK_SECRET=(.*)$", re.MULTILINE)


def setwebhook(settings, *args: str) -> str:
    """Run the command; return what it printed, which never holds the bot token."""
    out = io.StringIO()
    call_command("setwebhook", *args, stdout=out)
    printed = out.getvalue()
    assert settings.TELEGRAM_BOT_TOKEN not in printed
    return printed


def webhook_state(tg) -> dict:
    """What the simulated Telegram holds: url, secret_token, allowed_updates, deliveries."""
    return httpx.get(f"{tg.url}/_control/webhook").json()


@pytest.fixture
def no_secret(settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""


def test_sets_the_webhook_with_a_generated_secret_printed_once(tg, settings, no_secret):
    printed = setwebhook(settings, PUBLIC)

    [secret] = SECRET_LINE.findall(printed)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert printed.count(secret) == 1
    state = webhook_state(tg)
    assert (state["url"], state["secret_token"]) == (HOOK, secret)
    # Blocking the bot is reported only to a bot that asks for my_chat_member.
    assert sorted(state["allowed_updates"]) == ["callback_query", "channel_post", "message", "my_chat_member"]


def test_each_run_generates_a_new_secret(tg, settings, no_secret):
    first = SECRET_LINE.findall(setwebhook(settings, PUBLIC))
    second = SECRET_LINE.findall(setwebhook(settings, PUBLIC))

    assert first != second
    assert webhook_state(tg)["secret_token"] == second[0]


def test_a_given_secret_is_used_and_not_repeated(tg, settings, no_secret):
    printed = setwebhook(settings, PUBLIC, "--secret", "chosen_Secret-123")

    assert webhook_state(tg)["secret_token"] == "chosen_Secret-123"
    assert "chosen_Secret-123" not in printed
    assert "TELEGRAM_WEBHOOK_SECRET" in printed


def test_the_configured_secret_is_used_and_not_printed(tg, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = "configured-secret"

    printed = setwebhook(settings, PUBLIC)

    assert webhook_state(tg)["secret_token"] == "configured-secret"
    assert "configured-secret" not in printed


@pytest.mark.parametrize("secret", ["has space", "semi;colon", "é", "x" * 257])
def test_a_secret_telegram_would_refuse_is_refused_before_calling_it(tg, settings, secret):
    with pytest.raises(CommandError, match="secret"):
        setwebhook(settings, PUBLIC, "--secret", secret)

    assert tg.request_counts()["counts"].get("setWebhook", 0) == 0


@pytest.mark.parametrize(
    ("public_url", "hook"),
    [
        ("https://relay.example.com", HOOK),
        ("https://relay.example.com/", HOOK),
        ("https://relay.example.com/telegram/webhook/", HOOK),
        ("https://relay.example.com/telegram/webhook", HOOK),
        ("https://example.com/relay", "https://example.com/relay/telegram/webhook/"),
        ("https://example.com:8443", "https://example.com:8443/telegram/webhook/"),
    ],
)
def test_the_webhook_path_is_added_once(tg, settings, public_url, hook):
    setwebhook(settings, public_url)

    assert webhook_state(tg)["url"] == hook


@pytest.mark.parametrize(
    "public_url",
    [
        "http://relay.example.com",
        "relay.example.com",
        "ftp://relay.example.com",
        "https://",
        "https://relay.example.com:8000",
        "https://relay.example.com:99999",
        "https://relay.example.com/?next=1",
    ],
)
def test_urls_telegram_cannot_deliver_to_are_refused(tg, settings, public_url):
    with pytest.raises(CommandError):
        setwebhook(settings, public_url)

    assert tg.request_counts()["counts"].get("setWebhook", 0) == 0


def test_allow_http_accepts_a_plain_http_url_on_any_port(tg, settings):
    setwebhook(settings, "http://127.0.0.1:8000", "--allow-http")

    assert webhook_state(tg)["url"] == "http://127.0.0.1:8000/telegram/webhook/"


def test_delete_removes_the_webhook(tg, settings):
    setwebhook(settings, PUBLIC)

    printed = setwebhook(settings, "--delete")

    assert webhook_state(tg)["url"] == ""
    assert "runbot" in printed


def test_info_shows_url_and_pending_updates(tg, settings):
    setwebhook(settings, PUBLIC)

    printed = setwebhook(settings, "--info")

    assert f"url: {HOOK}" in printed
    assert "pending_update_count: 0" in printed
    assert "last_error_message: (none)" in printed


@pytest.mark.parametrize("args", [[], [PUBLIC, "--delete"], ["--info", "--delete"]])
def test_exactly_one_action_is_needed(tg, settings, args):
    with pytest.raises(CommandError, match="exactly one"):
        setwebhook(settings, *args)


def test_a_bot_api_error_is_reported_without_the_token(tg, settings):
    tg.add_fault(method="setWebhook", kind="500")

    with pytest.raises(CommandError) as raised:
        setwebhook(settings, PUBLIC)

    assert "500" in str(raised.value)
    assert settings.TELEGRAM_BOT_TOKEN not in str(raised.value)


# End to end: the simulated Telegram pushes a user's message to a real web server.


def wait_for(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("gave up waiting")


def test_updates_reach_the_app_with_the_printed_secret(tg, settings, no_secret, live_server):
    printed = setwebhook(settings, live_server.url, "--allow-http")
    [secret] = SECRET_LINE.findall(printed)
    settings.TELEGRAM_WEBHOOK_SECRET = secret  # what the operator does for the web process

    tg.user_says(ALICE_CHAT, "hello")

    [reply] = tg.wait_sent(1, chat_id=ALICE_CHAT, timeout=15)
    verification_code_in(reply["text"])
    assert [(d["status"], d["ok"]) for d in webhook_state(tg)["deliveries"]] == [(200, True)]


def test_a_wrong_secret_is_refused_with_403(tg, settings, no_secret, live_server):
    setwebhook(settings, live_server.url, "--allow-http", "--secret", "the-secret-telegram-has")
    settings.TELEGRAM_WEBHOOK_SECRET = "another-secret"

    tg.user_says(ALICE_CHAT, "hello")

    deliveries = wait_for(lambda: webhook_state(tg)["deliveries"])
    assert deliveries[0]["status"] == 403
    assert tg.sent() == []
    assert "403" in setwebhook(settings, "--info")
