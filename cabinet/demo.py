"""The simulated chat with the bot that the cabinet shows in demo mode.

In demo mode (`make run` without a bot token) the bot talks to tg-relay's own
simulated Telegram, whose control API lets anyone play a Telegram user: this
module says things to the bot as the account's own simulated user and reads
what the bot sent to that chat. Outside demo mode it refuses to do anything,
so the control API is never called when a real Telegram is in use.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from django.conf import settings

from accounts.models import User

# Simulated Telegram user ids: far above the small ids the README and tests
# use by hand, and apart from the simulated bot's own id (7000000001).
USER_ID_BASE = 7_100_000_000
# How long saying something waits for the bot's answer, so it shows at once.
REPLY_WAIT_SECONDS = 3
TIMEOUT_SECONDS = 5
SESSION_KEY = "demo_chat"
# What the page remembers of what the user typed (the simulator keeps only what the bot sent).
KEEP_SAID = 50
# The groups and topics the account's simulated user made, newest last.
GROUPS_SESSION_KEY = "demo_groups"
KEEP_GROUPS = 10
TOPIC_NAME = "Alerts"


class DemoOff(Exception):
    """Demo mode is off: there is no simulated Telegram to talk to."""


class DemoUnavailable(Exception):
    """The simulated Telegram did not answer."""


@dataclass(frozen=True)
class Bubble:
    """One message in the simulated chat, as Telegram would show it."""

    message_id: int
    text: str
    date: datetime
    from_bot: bool


def user_id_for(user: User) -> int:
    return USER_ID_BASE + user.pk


def say(*, user: User, text: str, language_code: str, session) -> None:
    """Send `text` to the bot as the account's simulated Telegram user, and wait briefly for the answer."""
    chat_id = user_id_for(user)
    before = len(_sent(chat_id))
    body = {"text": text, "first_name": _name(user), "language_code": language_code}
    answer = _call("POST", f"/users/{chat_id}/messages", json=body)
    said = [*session.get(SESSION_KEY, []), {"id": answer["message_id"], "text": text, "date": _now()}]
    session[SESSION_KEY] = said[-KEEP_SAID:]
    # The bot answers every message; waiting here lets the reply show with the question.
    _call(
        "GET",
        "/wait_sent",
        params={"chat_id": chat_id, "count": before + 1, "timeout": REPLY_WAIT_SECONDS},
        timeout=REPLY_WAIT_SECONDS + TIMEOUT_SECONDS,
    )


def conversation(*, user: User, session) -> list[Bubble]:
    """What the simulated chat shows: the user's messages and everything the bot sent, in order."""
    chat_id = user_id_for(user)
    bubbles = [
        Bubble(message["message_id"], message["text"], _time(message["date"]), from_bot=True)
        for message in _sent(chat_id)
    ]
    bubbles += [
        Bubble(said["id"], said["text"], _time(said["date"]), from_bot=False) for said in session.get(SESSION_KEY, [])
    ]
    # Telegram numbers the messages of a chat in order, whoever wrote them.
    return sorted(bubbles, key=lambda bubble: bubble.message_id)


@dataclass(frozen=True)
class PlayedChat:
    """A group, or a topic in a forum, that the account's simulated user made, and what the bot sent there."""

    title: str
    chat_id: int
    thread_id: int | None
    bubbles: list[Bubble]


def play_group(*, user: User, code: str, start_command: str, topic: bool, session) -> None:
    """Make a simulated group with the account's simulated user in it, and link it (or a topic in it) with `code`.

    A group: the user adds the bot with the code, as Telegram does after the
    t.me/<bot>?startgroup=<code> link. A topic: the user makes a forum, adds
    the bot, opens a topic and sends `start_command` in it.
    """
    user_id = user_id_for(user)
    played = session.get(GROUPS_SESSION_KEY, [])
    number = len(played) + 1
    title = f"Demo forum {number}" if topic else f"Demo group {number}"
    creator = {str(user_id): "creator"}
    chat_id = _call("POST", "/groups", json={"title": title, "forum": topic, "members": creator})["chat_id"]
    thread_id = None
    if topic:
        _call("POST", f"/groups/{chat_id}/add_bot", json={"by": user_id})
        thread_id = _call("POST", f"/groups/{chat_id}/topics", json={"name": TOPIC_NAME, "by": user_id})["thread_id"]
        message = {"from": user_id, "text": start_command, "thread_id": thread_id, "first_name": _name(user)}
        _call("POST", f"/groups/{chat_id}/messages", json=message)
        title = f"{title} / {TOPIC_NAME}"
    else:
        _call("POST", f"/groups/{chat_id}/add_bot", json={"by": user_id, "start": code})
    session[GROUPS_SESSION_KEY] = [*played, {"title": title, "chat_id": chat_id, "thread_id": thread_id}][-KEEP_GROUPS:]
    # The bot answers the code; waiting here lets the answer show with the page.
    _call(
        "GET",
        "/wait_sent",
        params={"chat_id": chat_id, "count": 1, "timeout": REPLY_WAIT_SECONDS},
        timeout=REPLY_WAIT_SECONDS + TIMEOUT_SECONDS,
    )


def played_chats(*, session) -> list[PlayedChat]:
    """The groups and topics the account's simulated user made, each with what the bot sent to it."""
    chats = []
    for played in session.get(GROUPS_SESSION_KEY, []):
        thread_id = played["thread_id"]
        bubbles = [
            Bubble(message["message_id"], message["text"], _time(message["date"]), from_bot=True)
            for message in _sent(played["chat_id"])
            if message.get("message_thread_id") == thread_id
        ]
        chats.append(PlayedChat(played["title"], played["chat_id"], thread_id, bubbles))
    return chats


def _name(user: User) -> str:
    return user.name or user.username


def _sent(chat_id: int) -> list[dict]:
    return _call("GET", "/sent", params={"chat_id": chat_id})["messages"]


def _call(method: str, path: str, *, timeout: float = TIMEOUT_SECONDS, **kwargs) -> dict:
    if not settings.TELEGRAM_DEMO:
        raise DemoOff
    url = f"{settings.TELEGRAM_API_URL}/_control{path}"
    try:
        response = httpx.request(method, url, timeout=timeout, **kwargs)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DemoUnavailable(type(exc).__name__) from None


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def _time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
