"""Shared fixtures: the simulated Telegram over real HTTP, and two users, alice and bob."""

import base64
import itertools
import re
from collections.abc import Iterator

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.utils import timezone
from rest_framework.test import APIClient

from fakegram.server import FakeTelegram

ALICE_CHAT = 1001
BOB_CHAT = 2002
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def fake_telegram_server() -> Iterator[FakeTelegram]:
    server = FakeTelegram(host="127.0.0.1", port=0, token=None, bot_username="relay_test_bot").start()
    yield server
    server.stop()


@pytest.fixture
def tg(fake_telegram_server: FakeTelegram, settings) -> FakeTelegram:
    """The simulated Telegram, emptied, with the app pointed at it."""
    fake_telegram_server.reset()
    settings.TELEGRAM_API_URL = fake_telegram_server.url
    return fake_telegram_server


@pytest.fixture(autouse=True)
def _clear_cache(request) -> None:
    from huey.contrib.djhuey import HUEY

    # Without Redis the shared cache is a table: emptied once the test has its database,
    # and left alone by a test without one.
    uses_database = bool(request.node.get_closest_marker("django_db"))
    for fixture in ("transactional_db", "db"):
        if not uses_database and fixture in request.fixturenames:
            request.getfixturevalue(fixture)
            uses_database = True
    for each in caches.all():
        if uses_database or not isinstance(each, DatabaseCache):
            each.clear()
    # The in-memory queue of immediate mode keeps what was scheduled for later.
    HUEY.flush()


def make_user(username: str, name: str):
    from accounts.services import register_user

    return register_user(username=username, password=PASSWORD, name=name)


def client_for(user) -> APIClient:
    from accounts.services import issue_token

    _, token = issue_token(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def basic_auth(username: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def link(user, chat_id: int):
    """Link a private chat to the account, as the bot does: its default destination unless it has one."""
    from relay import destinations

    chat = destinations.ChatInfo(chat_id=chat_id, kind="private", title=user.name, language_code="ru")
    return destinations.link(user=user, chat=chat)


@pytest.fixture
def alice(db):
    return make_user("alice", "Alice")


@pytest.fixture
def bob(db):
    return make_user("bob", "Bob")


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def alice_linked(alice, alice_api) -> APIClient:
    """Alice's API client, with her Telegram chat linked."""
    link(alice, ALICE_CHAT)
    return alice_api


@pytest.fixture
def bob_linked(bob, bob_api) -> APIClient:
    link(bob, BOB_CHAT)
    return bob_api


def make_due() -> None:
    """Bring every waiting retry and pause to now: the test stands in for the clock."""
    from relay.models import Destination, Message
    from relay.pacing import BOT_PAUSE_KEY

    Message.objects.filter(status=Message.Status.QUEUED).update(next_attempt_at=timezone.now())
    Destination.objects.update(paused_until=None, last_sent_at=None, next_turn_at=None)
    cache.delete(BOT_PAUSE_KEY)


def run_sweep() -> None:
    """What the worker's periodic sweep does, run in-process."""
    from relay.tasks import sweep_task

    sweep_task()


# The bot's side: updates shaped exactly as Telegram sends them, and one turn of the poller.

_update_ids = itertools.count(900_000_001)


def text_update(
    chat_id: int,
    text: str,
    *,
    first_name: str = "Alice",
    username: str | None = None,
    language_code: str | None = "ru",
    update_id: int | None = None,
) -> dict:
    """A private text message update, as the Bot API delivers it."""
    sender = {"id": chat_id, "is_bot": False, "first_name": first_name}
    chat = {"id": chat_id, "first_name": first_name, "type": "private"}
    if username:
        sender["username"] = chat["username"] = username
    if language_code:
        sender["language_code"] = language_code
    message = {"message_id": 1, "from": sender, "chat": chat, "date": 1767225600, "text": text}
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"offset": 0, "length": len(command.encode("utf-16-le")) // 2, "type": "bot_command"}]
    return {"update_id": next(_update_ids) if update_id is None else update_id, "message": message}


def poll_bot() -> int:
    """What one turn of `manage.py runbot` does: fetch waiting updates, handle them, confirm them."""
    from relaybot.bot import handle_update
    from relaybot.client import get_bot

    bot = get_bot()
    updates = bot.get_updates(None, timeout=0)
    for update in updates:
        handle_update(update)
    if updates:
        bot.get_updates(updates[-1]["update_id"] + 1, timeout=0)
    return len(updates)


def verification_code_in(reply: str) -> str:
    """The code in the bot's verification reply: the one line that holds nothing but a code."""
    lines = [line for line in reply.splitlines() if re.fullmatch(r"[A-Za-z0-9_-]{4,64}", line)]
    assert len(lines) == 1, f"expected one line with only a code in {reply!r}"
    return lines[0]
