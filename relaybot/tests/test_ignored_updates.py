"""Updates that are not for the bot (group chatter, edits, stickers, malformed ones) get no reply and cause no error.

Redeliveries act once.
"""

import copy

import pytest

from conftest import ALICE_CHAT, poll_bot, text_update
from relay.models import Destination
from relaybot.bot import handle_update
from relaybot.models import LinkCode
from relaybot.texts import text

pytestmark = pytest.mark.django_db

GROUP_CHAT = -4001
SUPERGROUP_CHAT = -1001234567890
SENDER = {"id": ALICE_CHAT, "is_bot": False, "first_name": "Alice", "language_code": "en"}
PRIVATE_CHAT = {"id": ALICE_CHAT, "first_name": "Alice", "type": "private"}


def message(**fields) -> dict:
    return {"message_id": 7, "date": 1767225600, "from": SENDER, "chat": PRIVATE_CHAT, **fields}


def without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


# Each would link the chat or earn a reply if the bot took it for a private text message.
IGNORED = {
    "sticker": {"message": message(sticker={"file_id": "CAACAgI", "emoji": "👍", "width": 512, "height": 512})},
    "photo with caption": {"message": message(photo=[{"file_id": "AgAD", "width": 90, "height": 90}], caption="hi")},
    "edited message": {"edited_message": {**message(text="hello"), "edit_date": 1767225700}},
    "group chat": {"message": message(text="hello", chat={"id": GROUP_CHAT, "title": "Team", "type": "group"})},
    "supergroup": {
        "message": message(text="hello", chat={"id": SUPERGROUP_CHAT, "title": "Big", "type": "supergroup"})
    },
    "another bot's command in a group": {
        "message": message(text="/start@OtherBot", chat={"id": GROUP_CHAT, "title": "Team", "type": "group"})
    },
    "forum topic chatter": {
        "message": message(
            text="hello",
            chat={"id": SUPERGROUP_CHAT, "title": "Big", "type": "supergroup", "is_forum": True},
            message_thread_id=5,
            is_topic_message=True,
        )
    },
    "channel post": {
        "channel_post": {
            "message_id": 3,
            "date": 1767225600,
            "chat": {"id": SUPERGROUP_CHAT, "title": "News", "type": "channel"},
            "text": "hello",
        }
    },
    "callback query": {
        "callback_query": {
            "id": "4382",
            "from": SENDER,
            "message": message(text="hello"),
            "chat_instance": "-77",
            "data": "start",
        }
    },
    "bot blocked": {
        "my_chat_member": {
            "chat": PRIVATE_CHAT,
            "from": SENDER,
            "date": 1767225600,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "b"}},
            "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True, "first_name": "b"}},
        }
    },
    "from a bot": {"message": message(text="hello", **{"from": {"id": 99, "is_bot": True, "first_name": "Other"}})},
    "no text": {"message": message()},
    "text not a string": {"message": message(text=12345)},
    "text is null": {"message": message(text=None)},
    "message not an object": {"message": "hello"},
    "message empty": {"message": {}},
    "no chat": {"message": without(message(text="hello"), "chat")},
    "no sender": {"message": without(message(text="hello"), "from")},
    "chat not an object": {"message": message(text="hello", chat=[ALICE_CHAT])},
    "chat id a string": {"message": message(text="hello", chat={**PRIVATE_CHAT, "id": str(ALICE_CHAT)})},
    "chat id true": {"message": message(text="hello", chat={**PRIVATE_CHAT, "id": True})},
    "chat id a float": {"message": message(text="hello", chat={**PRIVATE_CHAT, "id": float(ALICE_CHAT)})},
    "chat id past 64 bits": {"message": message(text="hello", chat={**PRIVATE_CHAT, "id": 2**64 + ALICE_CHAT})},
    "chat without id": {"message": message(text="hello", chat=without(PRIVATE_CHAT, "id"))},
    "chat without type": {"message": message(text="hello", chat=without(PRIVATE_CHAT, "type"))},
    "sender a string": {"message": message(text="hello", **{"from": "Alice"})},
    "nothing but the id": {},
}

# A well-formed message under an update_id Telegram would never send.
BAD_UPDATE_IDS = {
    "missing": {},
    "null": {"update_id": None},
    "a string": {"update_id": "5001"},
    "a float": {"update_id": 5001.0},
    "true": {"update_id": True},
    "negative": {"update_id": -5001},
    "past 64 bits": {"update_id": 2**64 + 5001},
}

NOT_OBJECTS = [[], [text_update(ALICE_CHAT, "hello")], "hello", "", 0, 42, None, True, 1.5]


def assert_nothing_happened(tg) -> None:
    assert tg.sent() == []
    assert not Destination.objects.exists()
    assert not LinkCode.objects.exists()


@pytest.mark.parametrize("update", list(IGNORED.values()), ids=list(IGNORED))
def test_update_that_is_not_a_private_text_message_is_ignored(tg, update):
    handle_update({"update_id": 5001, **copy.deepcopy(update)})

    assert_nothing_happened(tg)


@pytest.mark.parametrize("update_id", list(BAD_UPDATE_IDS.values()), ids=list(BAD_UPDATE_IDS))
def test_update_without_a_proper_update_id_is_ignored(tg, update_id):
    handle_update({**update_id, "message": message(text="hello")})

    assert_nothing_happened(tg)


@pytest.mark.parametrize("update", NOT_OBJECTS, ids=repr)
def test_update_that_is_not_an_object_is_ignored(tg, update):
    handle_update(update)

    assert_nothing_happened(tg)


def test_a_link_code_redeemed_in_a_group_links_the_group(tg, alice, alice_api):
    code = alice_api.post("/api/v1/telegram/link/").json()["code"]
    group = {"id": GROUP_CHAT, "title": "Team", "type": "group"}

    # A bare code is group chatter: only /start redeems it there.
    handle_update({"update_id": 5002, "message": message(text=code, chat=group)})
    assert tg.sent() == []
    assert not Destination.objects.exists()

    handle_update({"update_id": 5003, "message": message(text=f"/start {code}", chat=group)})

    destination = Destination.objects.get()
    assert (destination.user, destination.chat_id, destination.kind) == (alice, GROUP_CHAT, "group")
    [reply] = tg.sent()
    assert reply["chat_id"] == GROUP_CHAT
    # The code is used up: the private chat cannot redeem it as well.
    handle_update(text_update(ALICE_CHAT, f"/start {code}", language_code="en"))
    assert tg.sent(chat_id=ALICE_CHAT)[0]["text"] == text("en", "code_invalid")
    assert Destination.objects.get() == destination


@pytest.mark.parametrize("update", list(IGNORED.values()), ids=list(IGNORED))
def test_ignored_updates_from_the_poller_do_not_stop_the_next_one(tg, update):
    if "my_chat_member" in update:
        # Sent only once the poller has asked for it in allowed_updates, as ours does.
        assert poll_bot() == 0
    tg.push_update(copy.deepcopy(update))
    tg.user_says(ALICE_CHAT, "hello")

    assert poll_bot() == 2

    assert len(tg.sent()) == 1
    assert tg.sent(chat_id=ALICE_CHAT)


def test_a_redelivered_update_is_handled_once(tg):
    update = text_update(ALICE_CHAT, "hello")

    handle_update(update)
    handle_update(copy.deepcopy(update))

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert LinkCode.objects.count() == 1


def test_a_redelivered_start_links_once_and_does_not_answer_again(tg, alice, alice_api):
    update = text_update(ALICE_CHAT, "/start " + alice_api.post("/api/v1/telegram/link/").json()["code"])

    handle_update(update)
    handle_update(copy.deepcopy(update))

    [reply] = tg.sent(chat_id=ALICE_CHAT)
    assert "Alice" in reply["text"]
    assert Destination.objects.get().user == alice


def test_a_redelivered_update_from_the_poller_is_handled_once(tg):
    update = without(text_update(ALICE_CHAT, "hello"), "update_id")
    update_id = tg.push_update(update)
    assert poll_bot() == 1

    tg.push_update({"update_id": update_id, **update})
    assert poll_bot() == 1

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_different_updates_with_the_same_text_are_each_answered(tg):
    handle_update(text_update(ALICE_CHAT, "hello"))
    handle_update(text_update(ALICE_CHAT, "hello"))

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 2
