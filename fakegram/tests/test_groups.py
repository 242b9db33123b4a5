"""Groups, supergroups, forum topics and channels in the simulated Telegram, over real HTTP."""

import json
from collections.abc import Iterator

import httpx
import pytest

from fakegram.server import BOT_ID, MIGRATED, FakeTelegram
from fakegram.tests.test_server import TOKEN, bot, control, error, send

ALL_UPDATES = ["message", "my_chat_member", "channel_post"]
CREATOR = 7
ADMIN = 8
MEMBER = 9
MEMBERS = {str(CREATOR): "creator", str(ADMIN): "administrator", str(MEMBER): "member"}


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def take_updates(http: httpx.Client, tg: FakeTelegram, allowed: list[str] | None = None) -> list[dict]:
    """Pending updates, confirmed so the next call returns only newer ones."""
    fields = {"allowed_updates": ALL_UPDATES if allowed is None else allowed}
    updates = http.post(bot(tg, "getUpdates"), json=fields).json()["result"]
    if updates:
        http.post(bot(tg, "getUpdates"), json={**fields, "offset": updates[-1]["update_id"] + 1, "limit": 1})
    return updates


def ok(http: httpx.Client, tg: FakeTelegram, path: str, body: dict | None = None) -> dict:
    response = http.post(control(tg, path), json=body)
    assert response.status_code == 200, response.text
    return response.json()


def new_group(http: httpx.Client, tg: FakeTelegram, **fields) -> int:
    return ok(http, tg, "groups", {"title": "Team", "members": MEMBERS, **fields})["chat_id"]


def group_with_bot(http: httpx.Client, tg: FakeTelegram, administrator: bool = False, **fields) -> int:
    chat_id = new_group(http, tg, **fields)
    ok(http, tg, f"groups/{chat_id}/add_bot", {"by": CREATOR, "administrator": administrator})
    return chat_id


def says(http: httpx.Client, tg: FakeTelegram, chat_id: int, text: str, **fields) -> dict:
    return ok(http, tg, f"groups/{chat_id}/messages", {"from": MEMBER, "text": text, **fields})


def call(http: httpx.Client, tg: FakeTelegram, method: str, **fields) -> httpx.Response:
    return http.post(bot(tg, method), json=fields)


# -- chats and their ids ---------------------------------------------------------


def test_each_kind_of_chat_gets_an_id_of_its_kind(tg, http):
    basic = [new_group(http, tg) for _ in range(2)]
    supergroup = new_group(http, tg, supergroup=True)
    forum = new_group(http, tg, forum=True)
    channel = ok(http, tg, "channels", {"title": "News"})["chat_id"]

    assert basic == [-4000000001, -4000000002]
    assert [supergroup, forum, channel] == [-1001000000001, -1001000000002, -1001000000003]
    assert all(abs(chat_id) > 2**31 for chat_id in (supergroup, forum, channel))


def test_reset_forgets_groups_but_ids_keep_growing(tg, http):
    old = group_with_bot(http, tg, supergroup=True)

    tg.reset()

    # A forgotten id is merely a chat the test invents again, sent to as before.
    assert send(http, tg, chat_id=old).json()["result"]["chat"] == {
        "id": old,
        "title": f"Chat {old}",
        "type": "supergroup",
    }
    assert new_group(http, tg, supergroup=True) == old - 1


def test_a_bot_not_yet_added_is_not_a_member(tg, http):
    group = new_group(http, tg)
    supergroup = new_group(http, tg, supergroup=True)

    assert send(http, tg, chat_id=group).json() == error(403, "Forbidden: bot is not a member of the group chat")
    assert send(http, tg, chat_id=supergroup).json() == error(
        403, "Forbidden: bot is not a member of the supergroup chat"
    )
    assert says(http, tg, group, "/start")["update_id"] is None
    assert tg.sent() == []


# -- the startgroup link ---------------------------------------------------------


def test_startgroup_adds_the_bot_and_posts_the_start_command(tg, http):
    take_updates(http, tg)
    group = new_group(http, tg, title="Ops")

    added = ok(http, tg, f"groups/{group}/add_bot", {"by": CREATOR, "start": "Abc_12-3"})

    updates = take_updates(http, tg)
    assert [u["update_id"] for u in updates] == added["update_ids"]
    change, start = updates[0]["my_chat_member"], updates[1]["message"]
    assert change["chat"] == {"id": group, "title": "Ops", "type": "group"}
    assert change["from"] == {"id": CREATOR, "is_bot": False, "first_name": "Alice"}
    assert change["old_chat_member"] == {"status": "left", "user": tg._bot_user()}
    assert change["new_chat_member"] == {"status": "member", "user": tg._bot_user()}
    assert start["text"] == "/start@tgrelay_demo_bot Abc_12-3"
    assert start["entities"] == [{"offset": 0, "length": len("/start@tgrelay_demo_bot"), "type": "bot_command"}]
    assert start["chat"] == change["chat"]
    assert start["from"]["id"] == CREATOR
    reply = send(http, tg, chat_id=group, text="linked")
    assert reply.json()["result"]["chat"] == {"id": group, "title": "Ops", "type": "group"}


def test_my_chat_member_in_a_group_is_sent_only_when_asked_for(tg, http):
    group = new_group(http, tg)

    added = tg.add_bot_to_group(group, by=CREATOR, start="payload")

    updates = http.get(bot(tg, "getUpdates")).json()["result"]
    assert len(added) == 2
    assert [u["update_id"] for u in updates] == added[1:]
    assert updates[0]["message"]["text"] == "/start@tgrelay_demo_bot payload"


def test_the_bot_may_be_added_as_an_administrator_of_a_forum(tg, http):
    take_updates(http, tg)
    forum = new_group(http, tg, title="Desk", forum=True)

    tg.add_bot_to_group(forum, by=ADMIN, administrator=True)

    (update,) = take_updates(http, tg)
    change = update["my_chat_member"]
    assert change["chat"] == {"id": forum, "title": "Desk", "type": "supergroup", "is_forum": True}
    assert change["new_chat_member"]["status"] == "administrator"
    assert change["new_chat_member"]["can_delete_messages"] is True
    assert change["new_chat_member"]["can_manage_topics"] is False


def test_adding_the_bot_again_reports_no_change(tg, http):
    group = group_with_bot(http, tg)

    again = ok(http, tg, f"groups/{group}/add_bot", {"by": MEMBER, "start": "x"})

    assert len(again["update_ids"]) == 1  # the /start message only


# -- privacy mode ----------------------------------------------------------------


def test_privacy_mode_lets_through_commands_and_replies_to_the_bot_only(tg, http):
    take_updates(http, tg)
    group = group_with_bot(http, tg)
    take_updates(http, tg)
    bot_message = send(http, tg, chat_id=group, text="from the bot").json()["result"]["message_id"]
    chatter = says(http, tg, group, "hello all")

    seen = {
        "command": says(http, tg, group, "/status"),
        "command for us": says(http, tg, group, "/status@TgRelay_Demo_Bot now"),
        "reply to the bot": says(http, tg, group, "thanks", reply_to=bot_message),
    }
    hidden = {
        "chatter": chatter,
        "command for another bot": says(http, tg, group, "/status@other_bot"),
        "reply to a user": says(http, tg, group, "me too", reply_to=chatter["message_id"]),
    }

    updates = take_updates(http, tg)
    assert [u["update_id"] for u in updates] == [answer["update_id"] for answer in seen.values()]
    assert all(answer["update_id"] is None for answer in hidden.values())
    assert updates[2]["message"]["reply_to_message"]["message_id"] == bot_message
    assert updates[2]["message"]["reply_to_message"]["from"]["id"] == BOT_ID
    assert updates[0]["message"]["from"] == {"id": MEMBER, "is_bot": False, "first_name": "Alice"}


def test_an_administrator_bot_receives_all_messages(tg, http):
    group = group_with_bot(http, tg, administrator=True)
    take_updates(http, tg)

    chatter = says(http, tg, group, "hello all", first_name="Bob", username="bob")

    (update,) = take_updates(http, tg)
    assert update["update_id"] == chatter["update_id"]
    assert update["message"]["message_id"] == chatter["message_id"]
    assert update["message"]["from"] == {"id": MEMBER, "is_bot": False, "first_name": "Bob", "username": "bob"}
    assert "entities" not in update["message"]


# -- forum topics ----------------------------------------------------------------


def test_a_topic_carries_its_thread_id_both_ways(tg, http):
    take_updates(http, tg)
    forum = group_with_bot(http, tg, forum=True)
    take_updates(http, tg)

    thread = ok(http, tg, f"groups/{forum}/topics", {"name": "Alerts"})["thread_id"]
    asked = says(http, tg, forum, "/status", thread_id=thread)
    answer = send(http, tg, chat_id=forum, text="all good", message_thread_id=thread)

    created, message = (u["message"] for u in take_updates(http, tg))
    assert created["message_id"] == created["message_thread_id"] == thread
    assert created["is_topic_message"] is True
    assert created["forum_topic_created"] == {"name": "Alerts", "icon_color": 7322096}
    assert created["from"]["id"] == CREATOR
    assert message["message_id"] == asked["message_id"]
    assert message["message_thread_id"] == thread
    assert message["is_topic_message"] is True
    # Telegram makes a topic's messages replies to the message that created it.
    assert message["reply_to_message"]["message_id"] == thread
    result = answer.json()["result"]
    assert (result["message_thread_id"], result["is_topic_message"]) == (thread, True)
    assert result["chat"]["is_forum"] is True
    assert tg.sent()[0]["message_thread_id"] == thread


def test_closed_and_deleted_topics_refuse_sends(tg, http):
    take_updates(http, tg)
    forum = group_with_bot(http, tg, forum=True)
    thread = tg.create_topic(forum, "Alerts")
    take_updates(http, tg)

    missing = send(http, tg, chat_id=forum, message_thread_id=thread + 100)
    closed_id = ok(http, tg, f"groups/{forum}/topics/{thread}/close")["update_id"]
    closed = send(http, tg, chat_id=forum, message_thread_id=thread)
    general = send(http, tg, chat_id=forum, text="not in a topic")
    reopened_id = ok(http, tg, f"groups/{forum}/topics/{thread}/reopen", {"by": ADMIN})["update_id"]
    reopened = send(http, tg, chat_id=forum, message_thread_id=thread)
    ok(http, tg, f"groups/{forum}/topics/{thread}/delete")
    deleted = send(http, tg, chat_id=forum, message_thread_id=thread)

    assert missing.json() == error(400, "Bad Request: message thread not found")
    assert closed.json() == error(400, "Bad Request: TOPIC_CLOSED")
    assert general.status_code == reopened.status_code == 200
    assert deleted.json() == error(400, "Bad Request: message thread not found")
    updates = take_updates(http, tg)
    assert [u["update_id"] for u in updates] == [closed_id, reopened_id]  # deleting tells the bot nothing
    closing, reopening = (u["message"] for u in updates)
    assert (closing["forum_topic_closed"], closing["message_thread_id"]) == ({}, thread)
    assert (reopening["forum_topic_reopened"], reopening["message_thread_id"]) == ({}, thread)
    assert reopening["from"]["id"] == ADMIN
    assert len(tg.sent()) == 2


def test_sends_may_name_a_thread_and_silence_and_are_recorded_only_when_they_do(tg, http):
    plain = send(http, tg, chat_id=5, text="plain").json()["result"]
    send(http, tg, chat_id=5, text="quiet", disable_notification=True)
    send(http, tg, chat_id=-5, text="thread", message_thread_id=3, disable_notification=False)

    records = http.get(control(tg, "sent")).json()["messages"]

    assert records[0] == {"chat_id": 5, "message_id": plain["message_id"], "text": "plain", "date": plain["date"]}
    assert records[1]["disable_notification"] is True
    assert "message_thread_id" not in records[1]
    assert (records[2]["message_thread_id"], records[2]["disable_notification"]) == (3, False)


# -- the bot removed -------------------------------------------------------------


def test_a_kicked_bot_is_forbidden_until_added_back(tg, http):
    take_updates(http, tg)
    group = group_with_bot(http, tg)
    supergroup = group_with_bot(http, tg, supergroup=True)
    take_updates(http, tg)

    kicked = ok(http, tg, f"groups/{group}/remove_bot", {"by": ADMIN})
    twice = ok(http, tg, f"groups/{group}/remove_bot", {"by": ADMIN})
    tg.remove_bot(supergroup)
    refused = [send(http, tg, chat_id=chat_id).json() for chat_id in (group, supergroup)]
    hidden = says(http, tg, group, "/start")
    tg.add_bot_to_group(group, by=CREATOR)

    assert refused == [
        error(403, "Forbidden: bot was kicked from the group chat"),
        error(403, "Forbidden: bot was kicked from the supergroup chat"),
    ]
    assert twice == {"update_id": None}
    assert hidden["update_id"] is None
    assert send(http, tg, chat_id=group).status_code == 200
    updates = take_updates(http, tg)
    assert updates[0]["update_id"] == kicked["update_id"]
    changes = [u["my_chat_member"] for u in updates]
    assert changes[0]["new_chat_member"] == {"status": "kicked", "user": tg._bot_user(), "until_date": 0}
    assert changes[0]["from"]["id"] == ADMIN
    assert changes[1]["from"]["id"] == CREATOR  # nobody named: the creator did it
    assert changes[2]["old_chat_member"]["status"] == "kicked"
    assert changes[2]["new_chat_member"]["status"] == "member"


def test_a_bot_that_left_is_not_a_member(tg, http):
    take_updates(http, tg)
    group = group_with_bot(http, tg)
    take_updates(http, tg)

    ok(http, tg, f"groups/{group}/remove_bot", {"kicked": False})

    (update,) = take_updates(http, tg)
    assert update["my_chat_member"]["new_chat_member"] == {"status": "left", "user": tg._bot_user()}
    assert update["my_chat_member"]["from"] == tg._bot_user()
    assert send(http, tg, chat_id=group).json() == error(403, "Forbidden: bot is not a member of the group chat")


# -- upgrade to a supergroup -----------------------------------------------------


def test_an_upgraded_group_moves_to_its_supergroup(tg, http):
    take_updates(http, tg)
    group = group_with_bot(http, tg, title="Ops")
    take_updates(http, tg)

    new = ok(http, tg, f"groups/{group}/upgrade")["chat_id"]

    moved, arrived = (u["message"] for u in take_updates(http, tg))
    assert str(new).startswith("-100")
    assert moved["chat"] == {"id": group, "title": "Ops", "type": "group"}
    assert moved["migrate_to_chat_id"] == new
    assert moved["from"]["id"] == CREATOR
    assert arrived["chat"] == {"id": new, "title": "Ops", "type": "supergroup"}
    assert arrived["migrate_from_chat_id"] == group
    assert arrived["message_id"] == 1
    assert arrived["from"]["username"] == "GroupAnonymousBot"
    assert arrived["sender_chat"] == arrived["chat"]
    assert send(http, tg, chat_id=group).json() == error(400, MIGRATED, migrate_to_chat_id=new)
    assert send(http, tg, chat_id=new).json()["result"]["chat"]["type"] == "supergroup"
    assert call(http, tg, "getChatMember", chat_id=new, user_id=CREATOR).json()["result"]["status"] == "creator"
    assert call(http, tg, "getChatMember", chat_id=new, user_id=BOT_ID).json()["result"]["status"] == "member"
    assert says(http, tg, new, "/status")["update_id"] is not None


def test_only_a_basic_group_can_be_upgraded(tg, http):
    supergroup = new_group(http, tg, supergroup=True)
    group = new_group(http, tg)
    tg.upgrade_group(group)

    assert http.post(control(tg, f"groups/{supergroup}/upgrade")).status_code == 400
    assert http.post(control(tg, f"groups/{group}/upgrade")).status_code == 400


# -- channels --------------------------------------------------------------------


def test_a_channel_needs_the_bot_as_an_administrator_that_may_post(tg, http):
    take_updates(http, tg)
    channel = ok(http, tg, "channels", {"title": "News", "username": "news_feed"})["chat_id"]

    never_added = send(http, tg, chat_id=channel)
    ok(http, tg, f"channels/{channel}/bot_rights", {"status": "member"})
    member = send(http, tg, chat_id=channel)
    ok(http, tg, f"channels/{channel}/bot_rights", {"can_post_messages": False})
    may_not_post = send(http, tg, chat_id=channel)
    promoted = ok(http, tg, f"channels/{channel}/bot_rights", {"by": CREATOR})
    posted = send(http, tg, chat_id="@news_feed", text="hello")

    assert never_added.json() == error(403, "Forbidden: bot is not a member of the channel chat")
    assert (
        member.json() == may_not_post.json() == error(400, "Bad Request: need administrator rights in the channel chat")
    )
    result = posted.json()["result"]
    assert result["chat"] == {"id": channel, "title": "News", "type": "channel", "username": "news_feed"}
    assert result["sender_chat"] == result["chat"]
    assert "from" not in result
    changes = [u["my_chat_member"] for u in take_updates(http, tg)]
    assert changes[-1]["new_chat_member"]["status"] == "administrator"
    assert changes[-1]["new_chat_member"]["can_post_messages"] is True
    assert changes[-1]["new_chat_member"]["can_edit_messages"] is True
    assert changes[-1]["old_chat_member"]["can_post_messages"] is False
    assert changes[-1]["from"]["id"] == CREATOR
    assert promoted["update_id"] is not None


def test_channel_posts_reach_an_administrator_bot_only(tg, http):
    channel = tg.create_channel("News")
    unseen = ok(http, tg, f"channels/{channel}/posts", {"text": "/before"})
    tg.set_bot_rights(channel)

    seen = ok(http, tg, f"channels/{channel}/posts", {"text": "/digest now"})

    (update,) = take_updates(http, tg, ["channel_post"])
    assert unseen["update_id"] is None
    assert update["update_id"] == seen["update_id"]
    post = update["channel_post"]
    assert post["message_id"] == seen["message_id"] == unseen["message_id"] + 1
    assert "from" not in post
    assert post["sender_chat"] == post["chat"] == {"id": channel, "title": "News", "type": "channel"}
    assert post["entities"] == [{"offset": 0, "length": 7, "type": "bot_command"}]


def test_a_bot_removed_from_a_channel_is_forbidden(tg, http):
    channel = tg.create_channel("News")
    tg.set_bot_rights(channel)

    ok(http, tg, f"channels/{channel}/remove_bot", {"by": CREATOR})

    assert send(http, tg, chat_id=channel).json() == error(403, "Forbidden: bot was kicked from the channel chat")
    tg.set_bot_rights(channel, status="left")
    assert send(http, tg, chat_id=channel).json() == error(403, "Forbidden: bot is not a member of the channel chat")


# -- getChatMember ---------------------------------------------------------------


def test_get_chat_member_answers_each_status(tg, http):
    group = group_with_bot(http, tg, administrator=True)
    says(http, tg, group, "hi", first_name="Mia", username="mia")

    def member(user_id: int, chat_id: int = group) -> dict:
        return call(http, tg, "getChatMember", chat_id=chat_id, user_id=user_id).json()

    assert member(CREATOR)["result"] == {
        "status": "creator",
        "user": {"id": CREATOR, "is_bot": False, "first_name": "Alice"},
        "is_anonymous": False,
    }
    assert member(ADMIN)["result"]["status"] == "administrator"
    assert member(ADMIN)["result"]["can_delete_messages"] is True
    assert member(MEMBER)["result"] == {
        "status": "member",
        "user": {"id": MEMBER, "is_bot": False, "first_name": "Mia", "username": "mia"},
    }
    assert member(12345)["result"]["status"] == "left"
    bot_member = member(BOT_ID)["result"]
    assert (bot_member["status"], bot_member["user"]["id"]) == ("administrator", BOT_ID)
    tg.remove_bot(group)
    assert member(BOT_ID)["result"]["status"] == "kicked"
    assert member(CREATOR, chat_id=-77) == error(400, "Bad Request: chat not found")
    assert call(http, tg, "getChatMember", chat_id=group, user_id="x").json() == error(
        400, "Bad Request: invalid user_id specified"
    )


def test_get_chat_member_in_a_private_chat(tg, http):
    tg.user_says(42, "hi", first_name="Eve")

    user = call(http, tg, "getChatMember", chat_id=42, user_id=42).json()["result"]
    stranger = call(http, tg, "getChatMember", chat_id=42, user_id=43).json()

    assert user == {"status": "member", "user": {"id": 42, "is_bot": False, "first_name": "Eve"}}
    assert stranger == error(400, "Bad Request: user not found")


# -- deleteMessage ---------------------------------------------------------------


def delete(http: httpx.Client, tg: FakeTelegram, chat_id: int, message_id: int) -> httpx.Response:
    return call(http, tg, "deleteMessage", chat_id=chat_id, message_id=message_id)


def test_the_bot_deletes_its_own_recent_message(tg, http):
    first = send(http, tg, chat_id=42, text="one").json()["result"]["message_id"]
    second = send(http, tg, chat_id=42, text="two").json()["result"]["message_id"]

    deleted = delete(http, tg, 42, first)
    again = delete(http, tg, 42, first)
    unknown = delete(http, tg, 42, 999)
    ok(http, tg, f"chats/42/messages/{second}/age", {"seconds": 48 * 3600})
    too_old = delete(http, tg, 42, second)

    assert deleted.json() == {"ok": True, "result": True}
    assert again.json() == unknown.json() == error(400, "Bad Request: message to delete not found")
    assert too_old.json() == error(400, "Bad Request: message can't be deleted")
    assert http.get(control(tg, "deleted"), params={"chat_id": 42}).json() == {
        "messages": [{"chat_id": 42, "message_id": first}]
    }
    assert http.get(control(tg, "deleted"), params={"chat_id": 43}).json() == {"messages": []}
    records = tg.sent(42)
    assert records[0]["deleted"] is True
    assert "deleted" not in records[1]
    assert records[1]["date"] <= records[0]["date"] - 48 * 3600


def test_a_message_to_delete_must_be_named(tg, http):
    response = call(http, tg, "deleteMessage", chat_id=42)

    assert response.json() == error(400, "Bad Request: message identifier is not specified")


def test_only_an_administrator_bot_deletes_other_peoples_group_messages(tg, http):
    group = group_with_bot(http, tg, supergroup=True)
    users = says(http, tg, group, "spam")["message_id"]

    as_member = delete(http, tg, group, users)
    tg.set_bot_rights(group, can_delete_messages=False)
    without_the_right = delete(http, tg, group, users)
    tg.set_bot_rights(group)
    ok(http, tg, f"chats/{group}/messages/{users}/age", {"seconds": 72 * 3600})
    as_admin = delete(http, tg, group, users)

    assert as_member.json() == without_the_right.json() == error(400, "Bad Request: message can't be deleted")
    assert as_admin.json() == {"ok": True, "result": True}
    assert tg.deleted() == [{"chat_id": group, "message_id": users}]


def test_a_channel_message_needs_the_right_to_delete(tg, http):
    channel = tg.create_channel("News")
    tg.set_bot_rights(channel, can_delete_messages=False)
    own = send(http, tg, chat_id=channel).json()["result"]["message_id"]
    _, post = tg.channel_post(channel, "news")

    refused = [delete(http, tg, channel, message_id).json() for message_id in (own, post)]
    tg.set_bot_rights(channel)
    allowed = [delete(http, tg, channel, message_id).json() for message_id in (own, post)]

    assert refused == [error(400, "Bad Request: message can't be deleted")] * 2
    assert allowed == [{"ok": True, "result": True}] * 2


def test_a_topics_first_message_cannot_be_deleted(tg, http):
    forum = group_with_bot(http, tg, administrator=True, forum=True)
    thread = tg.create_topic(forum, "Alerts")

    assert delete(http, tg, forum, thread).json() == error(400, "Bad Request: message can't be deleted")


# -- the group limit -------------------------------------------------------------


def test_groups_are_limited_per_minute_and_topics_share_the_limit(tg, http):
    forum = group_with_bot(http, tg, forum=True)
    other = group_with_bot(http, tg)
    thread = tg.create_topic(forum, "Alerts")
    ok(http, tg, "limits", {"per_group_per_minute": 2})

    statuses = [
        send(http, tg, chat_id=forum).status_code,
        send(http, tg, chat_id=forum, message_thread_id=thread).status_code,
    ]
    limited = send(http, tg, chat_id=forum, message_thread_id=thread)
    elsewhere = [send(http, tg, chat_id=other).status_code, send(http, tg, chat_id=-99).status_code]
    private = {send(http, tg, chat_id=42).status_code for _ in range(5)}

    assert statuses == [200, 200]
    retry_after = limited.json()["parameters"]["retry_after"]
    assert 59 <= retry_after <= 60
    assert limited.json() == error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
    assert limited.headers["Retry-After"] == str(retry_after)
    assert elsewhere == [200, 200]
    assert private == {200}


def test_the_per_second_limit_still_holds_for_private_chats(tg, http):
    tg.set_limits(per_chat_per_second=1, per_group_per_minute=20)

    assert [send(http, tg, chat_id=42).status_code for _ in range(2)] == [200, 429]


# -- control input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("groups", {}),
        ("groups", {"title": "x" * 129}),
        ("groups", {"title": "T", "forum": "yes"}),
        ("groups", {"title": "T", "members": {"7": "owner"}}),
        ("groups", {"title": "T", "members": {"seven": "member"}}),
        ("groups", {"title": "T", "members": {"7": "creator", "8": "creator"}}),
        ("groups", {"title": "T", "colour": "red"}),
        ("groups/{group}/add_bot", {}),
        ("groups/{group}/add_bot", {"by": 7, "start": "no spaces"}),
        ("groups/{group}/add_bot", {"by": 7, "start": "x" * 65}),
        ("groups/-1/add_bot", {"by": 7}),
        ("groups/{channel}/add_bot", {"by": 7}),
        ("groups/{group}/messages", {"from": 9}),
        ("groups/{group}/messages", {"from": 0, "text": "hi"}),
        ("groups/{group}/messages", {"from": 9, "text": "hi", "thread_id": 2}),
        ("groups/{group}/messages", {"from": 9, "text": "hi", "reply_to": 99}),
        ("groups/{forum}/messages", {"from": 9, "text": "hi", "thread_id": 99}),
        ("groups/{group}/topics", {"name": "Alerts"}),
        ("groups/{forum}/topics", {"name": ""}),
        ("groups/{forum}/topics/99/close", None),
        ("groups/{forum}/topics/99/delete", None),
        ("groups/{forum}/upgrade", None),
        ("groups/{group}/remove_bot", {"kicked": "yes"}),
        ("channels", {"title": "News", "username": "n"}),
        ("channels/{group}/posts", {"text": "hi"}),
        ("channels/{channel}/posts", {}),
        ("channels/{channel}/bot_rights", {"status": "kicked"}),
        ("channels/{channel}/bot_rights", {"can_post_messages": 1}),
        ("chats/42/messages/1/age", {"seconds": 60}),
        ("limits", {"per_group_per_minute": 0}),
    ],
)
def test_bad_group_control_input_is_a_400(tg, http, path, body):
    chats = {"group": new_group(http, tg), "forum": new_group(http, tg, forum=True), "channel": tg.create_channel("C")}

    response = http.post(control(tg, path.format(**chats)), content=json.dumps(body).encode())

    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


def test_a_closed_topic_takes_messages_from_administrators_only(tg, http):
    forum = group_with_bot(http, tg, forum=True)
    thread = tg.create_topic(forum, "Alerts")
    tg.close_topic(forum, thread)

    member = http.post(
        control(tg, f"groups/{forum}/messages"), json={"from": MEMBER, "text": "/x", "thread_id": thread}
    )
    admin = says(http, tg, forum, "/x", thread_id=thread, **{"from": ADMIN})

    assert member.status_code == 400
    assert admin["update_id"] is not None
    with pytest.raises(ValueError):
        tg.close_topic(forum, thread)
