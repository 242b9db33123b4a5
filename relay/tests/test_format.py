"""The text the chat shows: header with the registration name, then the message byte for byte."""

import pytest

from conftest import ALICE_CHAT, client_for, link, make_user
from relay.tests.helpers import get_message, post_text, stored, texts
from relaybot.services import TelegramUser, link_private_chat

pytestmark = pytest.mark.django_db(transaction=True)

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one ZWJ sequence of seven code points
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
FLAGS = "\U0001f1f7\U0001f1fa\U0001f1fa\U0001f1e6\U0001f1ef\U0001f1f5"  # three regional-indicator pairs
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"


def deliver(tg, api, text: str) -> dict:
    """POST `text`, check it was sent in one message, return what Telegram recorded."""
    body = post_text(api, text)
    assert get_message(api, body["id"])["status"] == "sent"
    sent = tg.sent(chat_id=ALICE_CHAT)
    assert len(sent) == 1
    return sent[0]


def test_message_arrives_as_name_header_then_the_text(tg, alice, alice_api):
    link(alice, ALICE_CHAT)

    record = deliver(tg, alice_api, "Hello")

    assert record["text"] == "Alice, я получил от тебя сообщение:\nHello"
    assert record["chat_id"] == ALICE_CHAT


def test_header_uses_the_registration_name_not_the_telegram_name(tg):
    user = make_user("anna", "Анна-Мария <Q&A>")
    link_private_chat(user=user, who=TelegramUser(chat_id=ALICE_CHAT, username="anna_tg", first_name="Annie"))

    record = deliver(tg, client_for(user), "Привет")

    assert record["text"] == "Анна-Мария <Q&A>, я получил от тебя сообщение:\nПривет"


@pytest.mark.parametrize(
    "text",
    [
        "first line\nsecond line\n\nfourth after a blank line",
        "  indented\n\ttabbed\n  trailing spaces  ",
        "<b>x</b> & <script>alert(1)</script>",
        "&amp; &lt;not a tag&gt; <a href='x'>link</a> <unclosed",
        "*bold* _italic_ [link](http://example.com) `code` ~strike~ \\escaped\\ __init__ [*_]",
        "emoji 😀 👍 " + FAMILY + " " + RAINBOW_FLAG + " " + FLAGS + " " + THUMBS_UP_MEDIUM,
        FAMILY * 3,
        "mixed: Ünïcödé, 中文, العربية, עברית, हिन्दी, \u00a0nbsp, zero\u200bwidth",
    ],
    ids=["multi-line", "whitespace", "html", "html-entities", "markdown", "emoji", "zwj-only", "scripts"],
)
def test_text_arrives_byte_exact_without_parse_mode(tg, alice, alice_api, text):
    link(alice, ALICE_CHAT)

    record = deliver(tg, alice_api, text)

    assert record["text"] == "Alice, я получил от тебя сообщение:\n" + text
    assert record["text"].encode("utf-8") == ("Alice, я получил от тебя сообщение:\n" + text).encode("utf-8")
    assert "parse_mode" not in record


def test_status_becomes_sent_with_sent_at_and_telegram_message_id(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    body = post_text(alice_api, "Hello")

    message = get_message(alice_api, body["id"])

    assert message["status"] == "sent"
    assert message["sent_at"] is not None
    assert message["sent_at"] >= message["created_at"]
    assert message["error"] == ""
    assert stored(body["id"]).telegram_message_ids == [record["message_id"] for record in tg.sent()]


def test_each_message_is_sent_once(tg, alice, alice_api):
    link(alice, ALICE_CHAT)

    for text in ["one", "two", "three"]:
        post_text(alice_api, text)

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        "Alice, я получил от тебя сообщение:\none",
        "Alice, я получил от тебя сообщение:\ntwo",
        "Alice, я получил от тебя сообщение:\nthree",
    ]
    assert tg.request_counts()["counts"].get("sendMessage") == 3
