"""What the group, topic and channel tests share: the API calls they make, and updates shaped as Telegram sends them."""

import itertools

from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, make_due, poll_bot, run_sweep
from relay.models import Message
from relaybot.client import get_bot

DESTINATIONS_URL = "/api/v1/destinations/"
MESSAGES_URL = "/api/v1/messages/"
BOT_USERNAME = "relay_test_bot"
# In a group a user's id is the sender's, not the chat's; these are the ids of their private chats.
ALICE_USER = ALICE_CHAT
BOB_USER = BOB_CHAT
CAROL_USER = 3003
# Who Telegram names as the sender of an anonymous group administrator's message; sender_chat is the group.
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}

_update_ids = itertools.count(950_000_001)


def new_code(api: APIClient, label: str = "") -> dict:
    """POST /api/v1/destinations/: a fresh link code and the ways to use it."""
    response = api.post(DESTINATIONS_URL, {"label": label} if label else {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def listed(api: APIClient) -> list[dict]:
    response = api.get(DESTINATIONS_URL)
    assert response.status_code == 200, response.content
    return response.json()


def named(api: APIClient, label: str) -> dict:
    """The account's destination called `label`, as the API lists it."""
    [destination] = [each for each in listed(api) if each["label"] == label]
    return destination


def send(api: APIClient, text: str, to: str | int | None = None):
    body = {"text": text} if to is None else {"text": text, "to": to}
    return api.post(MESSAGES_URL, body, format="json")


def accepted(api: APIClient, text: str, to: str | int | None = None) -> dict:
    response = send(api, text, to)
    assert response.status_code == 202, response.content
    return response.json()


def message(api: APIClient, message_id: int) -> dict:
    response = api.get(f"{MESSAGES_URL}{message_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def deliver() -> None:
    """Deliver everything queued: the test stands in for the clock between a group's paced sends."""
    for _ in range(20):
        if not Message.objects.filter(status=Message.Status.QUEUED).exists():
            return
        make_due()
        run_sweep()
    raise AssertionError("messages are still queued")


def replies(tg, chat_id: int) -> list[str]:
    return [each["text"] for each in tg.sent(chat_id=chat_id)]


def poll() -> list[dict]:
    """One turn of the poller; returns the updates it handled, as Telegram sent them."""
    updates = get_bot().get_updates(None, timeout=0)
    assert poll_bot() == len(updates)
    return updates


def group_message(
    chat_id: int,
    text: str | None = None,
    *,
    title: str = "Team",
    chat_type: str = "group",
    sender_id: int = ALICE_USER,
    sender: dict | None = None,
    language_code: str | None = None,
    **fields,
) -> dict:
    """A message update in a group or supergroup, as the Bot API delivers it; `fields` adds service fields."""
    if sender is None:
        sender = {"id": sender_id, "is_bot": False, "first_name": "Alice"}
        if language_code:
            sender["language_code"] = language_code
    body: dict = {
        "message_id": next(_update_ids) % 100_000,
        "from": sender,
        "chat": {"id": chat_id, "title": title, "type": chat_type},
        "date": 1767225600,
    }
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            body["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
    body.update(fields)
    return {"update_id": next(_update_ids), "message": body}
