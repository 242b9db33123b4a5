"""Linking a chat in the bot: deep link, pasted code, /stop, /help, and the language of replies.

Each conversation is fed to the bot both directly and the way the poller gets it
from Telegram.
"""

import re

import pytest
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, client_for, link, make_user, poll_bot, text_update, verification_code_in
from relay.models import Destination
from relaybot.bot import handle_update
from relaybot.models import LinkCode

pytestmark = pytest.mark.django_db

LINK_URL = "/api/v1/telegram/link/"
OTHER_CHAT = 3003


@pytest.fixture(params=["handler", "poller"])
def say(request, tg, db):
    """Send a private text message to the bot from chat_id; the bot handles it before this returns."""

    def via_handler(chat_id: int, text: str, **sender) -> None:
        handle_update(text_update(chat_id, text, **sender))

    def via_poller(chat_id: int, text: str, **sender) -> None:
        tg.user_says(chat_id, text, **sender)
        assert poll_bot() == 1

    return via_handler if request.param == "handler" else via_poller


def new_code(client: APIClient) -> str:
    return client.post(LINK_URL).json()["code"]


def replies(tg, chat_id: int) -> list[str]:
    return [message["text"] for message in tg.sent(chat_id=chat_id)]


def has_cyrillic(text: str) -> bool:
    return re.search("[А-Яа-яЁё]", text) is not None


@pytest.fixture
def dave(db):
    # Telegram calls him Dmitry; his account calls him something else.
    return make_user("dave", "David Registered")


def test_deep_link_start_links_the_chat_and_greets_by_account_name(tg, say, dave):
    code = new_code(client_for(dave))

    say(ALICE_CHAT, f"/start {code}", first_name="Dmitry", username="dima")

    chat = Destination.objects.get()
    assert (chat.user, chat.chat_id, chat.username, chat.title) == (dave, ALICE_CHAT, "dima", "Dmitry")
    [reply] = replies(tg, ALICE_CHAT)
    assert "David Registered" in reply
    assert "Dmitry" not in reply
    assert tg.sent() == tg.sent(chat_id=ALICE_CHAT)


def test_pasted_code_links_the_same_way(tg, say, dave):
    code = new_code(client_for(dave))

    say(ALICE_CHAT, code, first_name="Dmitry")

    assert Destination.objects.get(chat_id=ALICE_CHAT).user == dave
    [reply] = replies(tg, ALICE_CHAT)
    assert "David Registered" in reply


@pytest.mark.parametrize(
    "message",
    ["  {code}\n", "/start@relay_test_bot {code}", "/START {code}", "/start   {code}  "],
    ids=["padded", "addressed", "capitalised", "spaced"],
)
def test_code_is_recognised_in_ordinary_variations(tg, say, alice, alice_api, message):
    say(ALICE_CHAT, message.format(code=new_code(alice_api)))

    assert Destination.objects.get(chat_id=ALICE_CHAT).user == alice


def test_link_code_works_once(tg, say, alice, alice_api):
    code = new_code(alice_api)
    say(ALICE_CHAT, f"/start {code}")

    say(OTHER_CHAT, f"/start {code}", language_code="en")

    assert Destination.objects.get().chat_id == ALICE_CHAT
    [reply] = replies(tg, OTHER_CHAT)
    assert "already used" in reply


def test_unknown_code_is_refused(tg, say, alice):
    say(ALICE_CHAT, "/start " + "x" * 43, language_code="en")

    assert not Destination.objects.exists()
    [reply] = replies(tg, ALICE_CHAT)
    assert "did not work" in reply


def test_an_account_has_at_most_one_chat(tg, say, alice, alice_api):
    say(ALICE_CHAT, f"/start {new_code(alice_api)}")

    say(OTHER_CHAT, f"/start {new_code(alice_api)}")

    assert list(Destination.objects.filter(user=alice).values_list("chat_id", flat=True)) == [OTHER_CHAT]
    assert alice_api.get(LINK_URL).json()["chat"]["chat_id"] == OTHER_CHAT


def test_a_chat_linked_to_alice_moves_to_bob_with_bobs_code(tg, say, alice, bob, alice_api, bob_api):
    link(alice, ALICE_CHAT)

    say(ALICE_CHAT, f"/start {new_code(bob_api)}")

    assert Destination.objects.get(chat_id=ALICE_CHAT).user == bob
    assert alice_api.get(LINK_URL).json() == {"linked": False, "chat": None}
    assert bob_api.get(LINK_URL).json()["chat"]["chat_id"] == ALICE_CHAT


def test_relinking_the_same_chat_keeps_one_link(tg, say, alice, alice_api):
    say(ALICE_CHAT, f"/start {new_code(alice_api)}", username="old_name")

    say(ALICE_CHAT, f"/start {new_code(alice_api)}", username="new_name")

    chat = Destination.objects.get()
    assert (chat.user, chat.chat_id, chat.username) == (alice, ALICE_CHAT, "new_name")


def test_stop_unlinks_and_says_so(tg, say, alice, alice_api):
    link(alice, ALICE_CHAT)

    say(ALICE_CHAT, "/stop", language_code="en")

    assert alice_api.get(LINK_URL).json() == {"linked": False, "chat": None}
    [reply] = replies(tg, ALICE_CHAT)
    assert "alice" in reply
    assert "no longer linked" in reply


def test_stop_touches_only_the_chat_that_sent_it(tg, say, alice, bob):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)

    say(BOB_CHAT, "/stop")

    assert list(Destination.objects.values_list("chat_id", flat=True)) == [ALICE_CHAT]


def test_stop_in_a_chat_that_is_not_linked(tg, say, alice):
    link(alice, ALICE_CHAT)

    say(OTHER_CHAT, "/stop", language_code="en")

    assert Destination.objects.get().chat_id == ALICE_CHAT
    [reply] = replies(tg, OTHER_CHAT)
    assert "not linked" in reply


def test_help_explains_the_ways_to_link(tg, say, alice):
    link(alice, ALICE_CHAT)

    say(ALICE_CHAT, "/help", language_code="en")

    [reply] = replies(tg, ALICE_CHAT)
    assert "/api/v1/telegram/link/" in reply
    assert "/stop" in reply
    assert "verification code" in reply
    assert not LinkCode.objects.exists()
    assert Destination.objects.get().user == alice


@pytest.mark.parametrize("message", ["hello", "/start", "/unknown", "what is this bot?"])
def test_any_other_message_gets_a_verification_code(tg, say, message):
    say(ALICE_CHAT, message, language_code="en")

    [reply] = replies(tg, ALICE_CHAT)
    code = verification_code_in(reply)
    assert re.fullmatch(r"[A-Z0-9]{6,}", code)
    assert len(reply.strip().splitlines()) >= 3
    assert "/api/v1/telegram/verify/" in reply
    assert "/bot/verify" in reply
    assert not Destination.objects.exists()


def test_verification_codes_differ_between_chats_and_requests(tg, say):
    say(ALICE_CHAT, "hi")
    say(ALICE_CHAT, "hi again")
    say(BOB_CHAT, "hi")

    codes = [verification_code_in(text) for text in replies(tg, ALICE_CHAT) + replies(tg, BOB_CHAT)]
    assert len(set(codes)) == 3


def test_verification_codes_are_stored_hashed(tg, say):
    say(ALICE_CHAT, "hi")

    code = verification_code_in(replies(tg, ALICE_CHAT)[0])
    row = LinkCode.objects.get()
    assert row.chat_id == ALICE_CHAT
    assert row.user is None
    assert not any(code in str(getattr(row, field.attname)) for field in LinkCode._meta.concrete_fields)


# Every kind of reply, in each language. Russian unless the sender's language_code says English.

CONVERSATIONS = {
    "linked": lambda say, code: say(ALICE_CHAT, f"/start {code}"),
    "code_invalid": lambda say, code: say(ALICE_CHAT, "/start " + "y" * 43),
    "verification": lambda say, code: say(ALICE_CHAT, "hello"),
    "help": lambda say, code: say(ALICE_CHAT, "/help"),
    "not_linked": lambda say, code: say(ALICE_CHAT, "/stop"),
}


@pytest.mark.parametrize("kind", list(CONVERSATIONS))
@pytest.mark.parametrize(
    ("language_code", "english"),
    [("en", True), ("en-GB", True), ("ru", False), (None, False), ("de", False), ("uk", False)],
)
def test_reply_language(tg, alice, alice_api, kind, language_code, english):
    code = new_code(alice_api)

    def say(chat_id, text):
        handle_update(text_update(chat_id, text, language_code=language_code))

    CONVERSATIONS[kind](say, code)

    [reply] = replies(tg, ALICE_CHAT)
    assert has_cyrillic(reply) is not english, reply


def test_stopped_reply_language(tg, alice, bob):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)

    handle_update(text_update(ALICE_CHAT, "/stop", language_code="en"))
    handle_update(text_update(BOB_CHAT, "/stop", language_code="ru"))

    assert not has_cyrillic(replies(tg, ALICE_CHAT)[0])
    assert has_cyrillic(replies(tg, BOB_CHAT)[0])


def test_every_message_gets_exactly_one_reply(tg, say, alice, alice_api):
    say(ALICE_CHAT, "hello")
    say(ALICE_CHAT, f"/start {new_code(alice_api)}")
    say(ALICE_CHAT, "/help")
    say(ALICE_CHAT, "/stop")

    assert len(replies(tg, ALICE_CHAT)) == 4
    assert tg.request_counts()["counts"]["sendMessage"] == 4
