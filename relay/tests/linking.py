"""Linking groups and forum topics as a person does: a code from the API, then the bot in the chat."""

from rest_framework.test import APIClient

from conftest import poll_bot

DESTINATIONS_URL = "/api/v1/destinations/"
BOT_USERNAME = "relay_test_bot"
# The Telegram user who creates the groups in these tests.
OWNER = 7001


def destination_url(destination_id: int) -> str:
    return f"{DESTINATIONS_URL}{destination_id}/"


def new_code(api: APIClient, label: str = "") -> dict:
    """POST /api/v1/destinations/: a link code, and the ways to use it."""
    response = api.post(DESTINATIONS_URL, {"label": label} if label else {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def destination(api: APIClient, label: str) -> dict:
    """The account's destination with this label, as the API lists it."""
    response = api.get(DESTINATIONS_URL)
    assert response.status_code == 200, response.content
    found = [each for each in response.json() if each["label"] == label]
    assert len(found) == 1, response.json()
    return found[0]


def link_group(tg, api: APIClient, title: str, label: str) -> tuple[int, dict]:
    """A new group with the bot added through the startgroup link; returns its chat id and the destination."""
    chat_id = tg.create_group(title, members={OWNER: "creator"})
    code = new_code(api, label)["code"]
    tg.add_bot_to_group(chat_id, by=OWNER, start=code)
    poll_bot()
    return chat_id, destination(api, label)


def new_forum(tg, title: str) -> int:
    """A forum supergroup with the bot in it, nothing linked yet; returns its chat id."""
    chat_id = tg.create_group(title, forum=True, members={OWNER: "creator"})
    tg.add_bot_to_group(chat_id, by=OWNER)
    poll_bot()
    return chat_id


def link_topic(tg, api: APIClient, chat_id: int, name: str, label: str) -> tuple[int, dict]:
    """A new topic in a forum the bot is in, linked with `/start@bot <code>` sent in it; returns its thread id."""
    thread_id = tg.create_topic(chat_id, name, by=OWNER)
    code = new_code(api, label)["code"]
    tg.group_user_says(chat_id, OWNER, f"/start@{BOT_USERNAME} {code}", thread_id=thread_id)
    poll_bot()
    return thread_id, destination(api, label)
