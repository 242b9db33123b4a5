"""Shared fixtures: the simulated Telegram over real HTTP, and two users, alice and bob."""

import base64
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.utils import timezone
from fakegram.server import FakeTelegram
from rest_framework.test import APIClient

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
    cache.clear()
    return fake_telegram_server


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


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
    from telegram.services import TelegramUser, link_chat

    return link_chat(user=user, who=TelegramUser(chat_id=chat_id, first_name=user.name, language_code="ru"))


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


def make_due() -> None:
    """Bring every waiting retry to now: the test stands in for the clock."""
    from relay.models import Message

    Message.objects.filter(status=Message.Status.QUEUED).update(next_attempt_at=timezone.now())


def run_sweep() -> None:
    """What the worker's periodic sweep does, run in-process."""
    from relay.tasks import sweep_task

    sweep_task()
