"""Property-based: the update handler takes whatever arrives, whole, mangled or cut short.

The poller and the webhook hand it parsed JSON from Telegram, or from anyone
who knows the webhook's address and secret. It must never raise, and it
answers only a private text message from a person, once per update id.
"""

import itertools
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import ALICE_CHAT, text_update
from relaybot import bot

pytestmark = pytest.mark.django_db

SECRET = "test-webhook-secret"
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Ids the handler must tell apart from the ones it stores: booleans, negatives, beyond 64 bits.
IDS = st.integers(min_value=-(2**64), max_value=2**64) | st.booleans() | st.just(0)
_fresh_update_ids = itertools.count(700_000_001)


@pytest.fixture
def replies(monkeypatch) -> list[tuple[Any, str]]:
    """What the bot sends, recorded instead of sent."""
    sent: list[tuple[Any, str]] = []

    class RecordingBot:
        def send_message(self, chat_id, text, **options):
            sent.append((chat_id, text))
            return {"message_id": len(sent)}

    monkeypatch.setattr(bot, "get_bot", RecordingBot)
    return sent


@pytest.fixture
def handled() -> set[int]:
    """Update ids handled so far in this test's database."""
    return set()


def is_id(value: Any, low: int = -(2**63)) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < 2**63


def answerable(update: Any) -> bool:
    """A private text message from a person: the only update that earns a reply."""
    if not isinstance(update, dict) or not is_id(update.get("update_id"), low=0):
        return False
    message = update.get("message")
    if not isinstance(message, dict):
        return False
    chat, sender = message.get("chat"), message.get("from")
    return (
        isinstance(chat, dict)
        and isinstance(sender, dict)
        and isinstance(message.get("text"), str)
        and chat.get("type") == "private"
        and is_id(chat.get("id"))
        and not sender.get("is_bot")
    )


@st.composite
def mangled_updates(draw) -> dict:
    """A real private text update, then keys dropped or values replaced anywhere in it."""
    update = text_update(
        draw(st.integers(min_value=1, max_value=2**40)),
        draw(st.text()),
        first_name=draw(st.text(min_size=1)),
        username=draw(st.none() | st.text()),
        language_code=draw(st.none() | st.text(max_size=20)),
        update_id=next(_fresh_update_ids),
    )
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        node = update
        while True:
            key = draw(st.sampled_from(sorted(node)))
            if isinstance(node[key], dict) and node[key] and draw(st.booleans()):
                node = node[key]
                continue
            if draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(JSON | IDS)
            break
        if not update:
            break
    return update


@PROPERTY_SETTINGS
@given(update=JSON)
def test_arbitrary_json_is_ignored_without_error(replies, update):
    replies.clear()

    bot.handle_update(update)

    if not answerable(update):
        assert replies == []


@PROPERTY_SETTINGS
@given(update=mangled_updates())
@example(update=text_update(ALICE_CHAT, "hi", first_name="A\x00" * 200, username="u" * 300, language_code="x" * 40))
@example(update=text_update(ALICE_CHAT, "/start \ud800", first_name="\udfff", username="\ud83d"))
@example(update=text_update(ALICE_CHAT, "\x00", first_name="Alice", update_id=2**63 - 1))
def test_mangled_update_gets_a_reply_only_if_still_a_private_text_message(replies, handled, update):
    replies.clear()
    # A mangled update id may be one handled in an earlier example: handled once, never again.
    expected = answerable(update) and update["update_id"] not in handled

    bot.handle_update(update)

    if is_id(update.get("update_id"), low=0):
        handled.add(update["update_id"])
    if expected:
        [(chat_id, reply)] = replies
        assert chat_id == update["message"]["chat"]["id"]
        assert reply.strip()
        # Telegram redelivers: the same update is never answered twice.
        bot.handle_update(update)
        assert len(replies) == 1
    else:
        assert replies == [], update


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1), cut=st.floats(min_value=0, max_value=1))
def test_webhook_body_cut_short_is_acknowledged_and_ignored(replies, text, cut):
    replies.clear()
    body = json.dumps(text_update(ALICE_CHAT, text, update_id=next(_fresh_update_ids)), ensure_ascii=False).encode()
    # Anywhere, even inside a multi-byte character: the rest never arrived.
    truncated = body[: int(len(body) * cut)]

    response = Client().post(
        "/telegram/webhook/",
        data=truncated,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    if truncated != body:
        assert replies == []
