"""Channels as destinations: a code an administrator posts links the channel; the bot's rights decide if it may post.

A channel's posts reach the bot as channel_post only while it is an administrator;
whatever the bot posts there, the subscribers read, so it never answers in a channel.
"""

import secrets

import pytest

from conftest import poll_bot
from relay.tests.helpers import delivered_text
from relaybot.bot import handle_update
from relaybot.tests.helpers import BOT_USERNAME, accepted, deliver, listed, named, new_code, poll, replies, send

pytestmark = pytest.mark.django_db

NO_POST_RIGHT = "Bad Request: need administrator rights in the channel chat"
KICKED = "Forbidden: bot was kicked from the channel chat"
LEFT = "Forbidden: bot is not a member of the channel chat"
BOT = {"id": 7000000001, "is_bot": True, "first_name": "tg-relay demo", "username": BOT_USERNAME}


@pytest.fixture
def bot(tg):
    """The simulated Telegram, with the poller started as runbot starts it: my_chat_member is asked for."""
    assert poll_bot() == 0
    return tg


@pytest.fixture
def channel(bot) -> int:
    """A channel where the bot is an administrator allowed to post and to delete."""
    chat_id = bot.create_channel("Release News", username="release_news")
    bot.set_bot_rights(chat_id, status="administrator", can_post_messages=True)
    assert len(poll()) == 1
    return chat_id


def link_channel(tg, api, chat_id: int, label: str = "") -> dict:
    tg.channel_post(chat_id, new_code(api, label)["code"])
    poll()
    [destination] = [each for each in listed(api) if each["chat_id"] == chat_id]
    return destination


@pytest.mark.parametrize("form", ["bare", "start", "start@bot"])
def test_a_code_posted_in_the_channel_links_it_and_the_post_is_deleted_without_a_reply(bot, alice_api, channel, form):
    code = new_code(alice_api, "news")
    post = {"bare": code["code"], "start": f"/start {code['code']}", "start@bot": code["start_command"]}[form]

    _, message_id = bot.channel_post(channel, post)
    assert len(poll()) == 1

    [destination] = listed(alice_api)
    assert destination["kind"] == "channel"
    assert (destination["chat_id"], destination["thread_id"]) == (channel, None)
    assert destination["title"] == "Release News"
    assert destination["label"] == "news"
    assert destination["unreachable_reason"] == ""
    assert bot.deleted() == [{"chat_id": channel, "message_id": message_id}]
    assert bot.sent() == []


def test_without_a_label_the_channel_is_named_after_its_title(bot, alice_api, channel):
    assert link_channel(bot, alice_api, channel)["label"] == "release-news"


def test_messages_sent_to_the_channel_arrive_there(bot, alice_linked, channel):
    link_channel(bot, alice_linked, channel, "news")

    accepted(alice_linked, "v2.1 is out", to="news")
    deliver()

    assert replies(bot, channel) == [delivered_text("Alice", "v2.1 is out")]


def test_without_the_right_to_delete_the_code_post_stays_and_the_channel_is_linked(bot, alice_api):
    chat_id = bot.create_channel("News")
    bot.set_bot_rights(chat_id, status="administrator", can_post_messages=True, can_delete_messages=False)
    poll()

    link_channel(bot, alice_api, chat_id, "news")

    assert bot.request_counts()["counts"]["deleteMessage"] == 1
    assert bot.deleted() == []
    assert bot.sent() == []


@pytest.mark.parametrize("post", ["bare", "start"])
def test_a_code_that_is_not_valid_links_nothing_and_the_bot_stays_silent(bot, alice_api, channel, post):
    code = secrets.token_urlsafe(32)

    bot.channel_post(channel, code if post == "bare" else f"/start {code}")
    poll()

    assert listed(alice_api) == []
    assert bot.sent() == []


def test_other_posts_are_left_alone(bot, alice_api, channel):
    code = new_code(alice_api, "news")["code"]

    for words in ("release notes", f"our code is {code}", "/help", f"/start@OtherBot {code}"):
        bot.channel_post(channel, words)
    assert len(poll()) == 4

    assert listed(alice_api) == []
    assert bot.deleted() == []
    assert bot.sent() == []


def test_stop_posted_in_the_channel_unlinks_it(bot, alice_api, bob_api, channel):
    link_channel(bot, alice_api, channel, "news")
    link_channel(bot, bob_api, channel, "news")
    queued = accepted(alice_api, "waiting", to="news")

    bot.channel_post(channel, f"/stop@{BOT_USERNAME}")
    poll()

    assert listed(alice_api) == []
    assert listed(bob_api) == []
    assert alice_api.get(f"/api/v1/messages/{queued['id']}/").json()["status"] == "failed"
    assert bot.sent() == []


DEMOTIONS = {
    "may not post": ({"status": "administrator", "can_post_messages": False}, NO_POST_RIGHT),
    "member": ({"status": "member"}, NO_POST_RIGHT),
    "left": ({"status": "left"}, LEFT),
}


@pytest.mark.parametrize(("rights", "reason"), list(DEMOTIONS.values()), ids=list(DEMOTIONS))
def test_a_bot_that_may_no_longer_post_makes_the_channel_unreachable_at_once(bot, alice_api, channel, rights, reason):
    link_channel(bot, alice_api, channel, "news")

    bot.set_bot_rights(channel, **rights)
    poll()

    assert named(alice_api, "news")["unreachable_reason"] == reason
    refused = send(alice_api, "v2.1 is out", to="news")
    assert refused.status_code == 409
    assert refused.json()["code"] == "chat_unreachable"

    bot.set_bot_rights(channel, status="administrator", can_post_messages=True)
    poll()

    assert named(alice_api, "news")["unreachable_reason"] == ""
    assert send(alice_api, "v2.1 is out", to="news").status_code == 202


def test_a_kicked_bot_makes_every_accounts_channel_destination_unreachable(bot, alice_api, bob_api, channel):
    link_channel(bot, alice_api, channel, "news")
    link_channel(bot, bob_api, channel, "updates")

    bot.remove_bot(channel)
    poll()

    assert named(alice_api, "news")["unreachable_reason"] == KICKED
    assert named(bob_api, "updates")["unreachable_reason"] == KICKED
    assert send(bob_api, "v2.1 is out", to="updates").status_code == 409


def test_a_send_refused_for_the_right_to_post_fails_and_marks_the_channel(bot, alice_api, channel):
    link_channel(bot, alice_api, channel, "news")
    # The rights changed and the update about it is not handled yet.
    bot.set_bot_rights(channel, status="administrator", can_post_messages=False)

    lost = accepted(alice_api, "v2.1 is out", to="news")
    deliver()

    assert alice_api.get(f"/api/v1/messages/{lost['id']}/").json()["status"] == "failed"
    assert named(alice_api, "news")["unreachable_reason"] == NO_POST_RIGHT


def test_the_demotion_as_telegram_sends_it(tg, alice_api):
    chat = {"id": -1001000000555, "title": "News", "type": "channel"}
    post = {"message_id": 2, "sender_chat": chat, "chat": chat, "date": 1767225600, "text": new_code(alice_api)["code"]}
    handle_update({"update_id": 970_000_001, "channel_post": post})
    admin = {
        "status": "administrator", "user": BOT, "can_be_edited": False, "is_anonymous": False,
        "can_manage_chat": True, "can_delete_messages": True, "can_post_messages": True, "can_edit_messages": True,
    }  # fmt: skip
    owner = {"id": 1001, "is_bot": False, "first_name": "Alice"}

    handle_update(
        {
            "update_id": 970_000_002,
            "my_chat_member": {
                "chat": chat,
                "from": owner,
                "date": 1767225600,
                "old_chat_member": admin,
                "new_chat_member": {**admin, "can_post_messages": False, "can_edit_messages": False},
            },
        }
    )

    [destination] = listed(alice_api)
    assert (destination["kind"], destination["unreachable_reason"]) == ("channel", NO_POST_RIGHT)
