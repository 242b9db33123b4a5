"""`manage.py runbot` against the simulated Telegram.

The loop polls forever; here it ends at the first empty answer from getUpdates,
which comes once everything sent to the bot has been fetched.
"""

import io
import logging
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from conftest import ALICE_CHAT, BOB_CHAT, client_for
from relay.models import Destination
from relaybot import services
from relaybot.client import BotClient, get_bot
from relaybot.management.commands import runbot

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

    assert Destination.objects.get().user == alice
    assert "Alice" in tg.sent(chat_id=ALICE_CHAT)[0]["text"]


def test_backs_off_while_get_updates_fails_then_carries_on(tg, polls, pauses):
    tg.add_fault(kind="502", method="getUpdates", times=2)
    tg.add_fault(kind="drop", method="getUpdates", times=1)
    tg.user_says(ALICE_CHAT, "hello")

    run_bot()

    assert pauses == [2, 4, 8]
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_a_start_whose_handling_fails_once_links_the_chat_when_tried_again(tg, polls, pauses, monkeypatch, alice):
    link_by_link_code = services.link_by_link_code
    calls = []

    def fails_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return link_by_link_code(**kwargs)

    monkeypatch.setattr(services, "link_by_link_code", fails_once)
    code = client_for(alice).post("/api/v1/telegram/link/").json()["code"]
    tg.user_says(ALICE_CHAT, f"/start {code}")
    later = tg.user_says(BOB_CHAT, "/help")

    run_bot()

    assert len(calls) == 2
    assert Destination.objects.get().user == alice
    [reply] = tg.sent(chat_id=ALICE_CHAT)
    assert "Alice" in reply["text"]
    assert len(tg.sent(chat_id=BOB_CHAT)) == 1
    # Not confirmed, so fetched again with the update behind it, which waited its turn.
    assert polls == [None, None, later + 1]
    assert pauses == [2]


def test_an_update_that_always_fails_is_skipped_after_the_bound_and_logged(
    tg, polls, pauses, monkeypatch, caplog, settings
):
    settings.BOT_UPDATE_MAX_ATTEMPTS = 3
    handle_update = runbot.handle_update
    attempts = []

    def fails_for_alice(update):
        if update["message"]["chat"]["id"] == ALICE_CHAT:
            attempts.append(update["update_id"])
            raise RuntimeError("handler crashed")
        handle_update(update)

    monkeypatch.setattr(runbot, "handle_update", fails_for_alice)
    failing = tg.user_says(ALICE_CHAT, "hello")
    tg.user_says(BOB_CHAT, "hello")

    run_bot()

    assert attempts == [failing] * 3
    assert pauses == [2, 4]
    assert tg.sent(chat_id=ALICE_CHAT) == []
    assert len(tg.sent(chat_id=BOB_CHAT)) == 1
    [skipped] = [record for record in caplog.records if "skipping" in record.getMessage()]
    assert skipped.levelno == logging.ERROR
    assert str(failing) in skipped.getMessage()
    assert skipped.update_id == failing
    # Skipped means confirmed: a restarted poller does not see it again.
    run_bot()
    assert attempts == [failing] * 3


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


def test_waits_for_telegram_when_it_cannot_be_reached_at_start(tg, polls, pauses, caplog, settings):
    settings.BOT_BACKOFF_MAX_SECONDS = 5
    tg.add_fault(kind="drop", method="getMe", times=3)
    tg.add_fault(kind="502", method="getWebhookInfo", times=1)
    tg.user_says(ALICE_CHAT, "hello")

    output = run_bot()

    assert "@relay_test_bot" in output
    assert pauses == [2, 4, 5, 2]
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert [w.split(" ", 1)[0] for w in warnings] == ["getMe", "getMe", "getMe", "getWebhookInfo"]
    assert not [w for w in warnings if TOKEN in w or TOKEN.partition(":")[2] in w]


# -- my_chat_member and addressed commands, through polling -------------------------------


def test_a_user_blocking_and_restarting_the_bot_is_learnt_by_polling(tg, polls, pauses, alice_linked):
    run_bot()  # A running poller has told Telegram which updates it wants.
    tg.user_blocks_bot(ALICE_CHAT)

    run_bot()

    refused = alice_linked.post("/api/v1/messages/", {"text": "hi"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "chat_unreachable")

    tg.user_unblocks_bot(ALICE_CHAT)
    run_bot()

    assert alice_linked.post("/api/v1/messages/", {"text": "hi"}, format="json").status_code == 202


def test_start_addressed_to_another_bot_links_nothing_by_polling(tg, polls, pauses, alice, alice_api):
    code = alice_api.post("/api/v1/telegram/link/").json()["code"]
    tg.user_says(ALICE_CHAT, f"/start@SomeOtherBot {code}")

    run_bot()

    assert not Destination.objects.exists()
    assert tg.sent() == []
