"""`manage.py runbot` against the simulated Telegram.

The loop polls forever; here it ends at the first empty answer from getUpdates,
which comes once everything sent to the bot has been fetched.
"""

import io
import logging
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from conftest import ALICE_CHAT, BOB_CHAT
from telegram.client import BotClient, get_bot
from telegram.management.commands import runbot
from telegram.models import Chat

pytestmark = pytest.mark.django_db

TOKEN = "123456:TEST-TOKEN-never-logged"


class NothingMoreToDo(Exception):
    """getUpdates came back empty: the test has seen everything it queued handled."""


@pytest.fixture
def polls(monkeypatch) -> list:
    """The offset of every getUpdates the loop makes."""
    offsets = []
    get_updates = BotClient.get_updates

    def get_updates_until_idle(self, offset, timeout=30):
        offsets.append(offset)
        assert len(offsets) < 20, f"still polling after {offsets}: updates are not being confirmed"
        updates = get_updates(self, offset, timeout=timeout)
        if not updates:
            raise NothingMoreToDo
        return updates

    monkeypatch.setattr(BotClient, "get_updates", get_updates_until_idle)
    return offsets


@pytest.fixture
def pauses(monkeypatch) -> list:
    """The back-off pauses the loop takes, recorded instead of slept."""
    taken = []
    monkeypatch.setattr(runbot, "time", SimpleNamespace(sleep=taken.append))
    return taken


def run_bot(*args: str) -> str:
    out = io.StringIO()
    with pytest.raises(NothingMoreToDo):
        call_command("runbot", "--timeout", "0", *args, stdout=out)
    return out.getvalue()


def test_answers_what_was_sent_and_confirms_it(tg, polls, pauses):
    tg.user_says(ALICE_CHAT, "hello")
    last = tg.user_says(BOB_CHAT, "/help")

    output = run_bot()

    assert "@relay_test_bot" in output
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert len(tg.sent(chat_id=BOB_CHAT)) == 1
    assert polls == [None, last + 1]
    assert pauses == []


def test_a_restart_does_not_answer_again(tg, polls, pauses):
    tg.user_says(ALICE_CHAT, "hello")
    run_bot()

    run_bot()

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_links_a_chat_by_deep_link(tg, polls, pauses, alice, alice_api):
    code = alice_api.post("/api/v1/telegram/link/").json()["code"]
    tg.user_says(ALICE_CHAT, f"/start {code}")

    run_bot()

    assert Chat.objects.get().user == alice
    assert "Alice" in tg.sent(chat_id=ALICE_CHAT)[0]["text"]


def test_backs_off_while_get_updates_fails_then_carries_on(tg, polls, pauses):
    tg.add_fault(kind="502", method="getUpdates", times=2)
    tg.add_fault(kind="drop", method="getUpdates", times=1)
    tg.user_says(ALICE_CHAT, "hello")

    run_bot()

    assert pauses == [2, 4, 8]
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_an_update_that_cannot_be_handled_does_not_stop_the_rest(tg, polls, pauses, monkeypatch, caplog):
    handle_update = runbot.handle_update

    def fails_for_alice(update):
        if update["message"]["chat"]["id"] == ALICE_CHAT:
            raise RuntimeError("handler crashed")
        handle_update(update)

    monkeypatch.setattr(runbot, "handle_update", fails_for_alice)
    failing = tg.user_says(ALICE_CHAT, "hello")
    tg.user_says(BOB_CHAT, "hello")

    run_bot()

    assert tg.sent(chat_id=ALICE_CHAT) == []
    assert len(tg.sent(chat_id=BOB_CHAT)) == 1
    assert any(str(failing) in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)
    # The failed update is confirmed too, so it is not retried forever.
    run_bot()
    assert tg.sent(chat_id=ALICE_CHAT) == []


def test_refuses_to_poll_while_a_webhook_is_set(tg, polls):
    get_bot().set_webhook("https://relay.example.com/telegram/webhook/", "s3cret")

    with pytest.raises(CommandError, match="--delete-webhook"):
        call_command("runbot", "--timeout", "0", stdout=io.StringIO())

    assert polls == []
    assert get_bot().get_webhook_info()["url"]


def test_delete_webhook_option_removes_it_and_polls(tg, polls, pauses):
    get_bot().set_webhook("https://relay.example.com/telegram/webhook/", "s3cret")

    run_bot("--delete-webhook")

    assert get_bot().get_webhook_info()["url"] == ""
    assert polls == [None]


def test_stops_with_a_clear_error_when_telegram_cannot_be_reached(tg, polls):
    tg.add_fault(kind="drop", method="getMe")

    with pytest.raises(CommandError) as caught:
        call_command("runbot", "--timeout", "0", stdout=io.StringIO())

    assert "getMe" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert polls == []
