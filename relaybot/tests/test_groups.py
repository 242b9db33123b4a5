"""Groups and forum topics as destinations: linking with a code, membership and topic events, /stop, the upgrade.

Updates come from the simulated Telegram through the poller, or are handed to the
bot shaped exactly as Telegram sends them; what happened is read from the API and
from what the simulated Telegram received.
"""

import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ALICE_CHAT, poll_bot
from relay.tests.helpers import delivered_text
from relaybot.bot import handle_update
from relaybot.tests.helpers import (
    ALICE_USER,
    ANONYMOUS_ADMIN,
    BOB_USER,
    BOT_USERNAME,
    CAROL_USER,
    accepted,
    deliver,
    group_message,
    listed,
    message,
    named,
    new_code,
    poll,
    replies,
    send,
)
from relaybot.texts import text

pytestmark = pytest.mark.django_db

KICKED = "Forbidden: bot was kicked from the group chat"
LEFT = "Forbidden: bot is not a member of the group chat"
SUPERGROUP_KICKED = "Forbidden: bot was kicked from the supergroup chat"
SUPERGROUP_LEFT = "Forbidden: bot is not a member of the supergroup chat"
TOPIC_CLOSED = "Bad Request: TOPIC_CLOSED"
THREAD_NOT_FOUND = "Bad Request: message thread not found"


@pytest.fixture
def bot(tg):
    """The simulated Telegram, with the poller started as runbot starts it: my_chat_member is asked for."""
    assert poll_bot() == 0
    return tg


def new_group(tg, title: str = "Team", *, supergroup: bool = False, forum: bool = False, admin: bool = False) -> int:
    """A group with Alice as its creator, Bob as a member, Carol as an administrator, and the bot in it."""
    members = {ALICE_USER: "creator", BOB_USER: "member", CAROL_USER: "administrator"}
    chat_id = tg.create_group(title, supergroup=supergroup, forum=forum, members=members)
    tg.add_bot_to_group(chat_id, by=ALICE_USER, administrator=admin)
    poll()
    return chat_id


def link_here(tg, api, chat_id: int, label: str = "", *, thread_id: int | None = None) -> dict:
    """Alice sends the API's start command in the group (or topic); returns the destination it linked."""
    tg.group_user_says(chat_id, ALICE_USER, new_code(api, label)["start_command"], thread_id=thread_id)
    poll()
    [destination] = [each for each in listed(api) if (each["chat_id"], each["thread_id"]) == (chat_id, thread_id)]
    return destination


# -- linking a group ----------------------------------------------------------------


@pytest.mark.parametrize("supergroup", [False, True], ids=["group", "supergroup"])
def test_the_start_command_links_the_group_under_the_codes_label_and_answers_there(bot, alice_api, supergroup):
    chat_id = new_group(bot, "Release Team", supergroup=supergroup)
    code = new_code(alice_api, "team")
    assert code["start_command"] == f"/start@{BOT_USERNAME} {code['code']}"

    bot.group_user_says(chat_id, ALICE_USER, code["start_command"])
    poll()

    [destination] = listed(alice_api)
    assert destination["label"] == "team"
    assert destination["kind"] == ("supergroup" if supergroup else "group")
    assert destination["title"] == "Release Team"
    assert (destination["chat_id"], destination["thread_id"]) == (chat_id, None)
    assert destination["is_default"] is True
    assert destination["unreachable_reason"] == ""
    [reply] = bot.sent(chat_id=chat_id)
    assert reply["text"] == text("ru", "linked_group", username="alice", label="team")
    assert "message_thread_id" not in reply
    assert bot.sent(chat_id=ALICE_CHAT) == []


def test_start_without_the_bots_name_links_the_group_too(bot, alice_api):
    chat_id = new_group(bot)

    bot.group_user_says(chat_id, ALICE_USER, f"/start {new_code(alice_api, 'team')['code']}")
    poll()

    assert [(each["label"], each["chat_id"]) for each in listed(alice_api)] == [("team", chat_id)]
    assert replies(bot, chat_id) == [text("ru", "linked_group", username="alice", label="team")]


def test_without_a_label_the_group_is_named_after_its_title(bot, alice_api):
    chat_id = new_group(bot, "Ops Alerts!")

    assert link_here(bot, alice_api, chat_id)["label"] == "ops-alerts"


def test_the_startgroup_link_adds_the_bot_and_links_the_group(bot, alice_api):
    code = new_code(alice_api, "team")
    chat_id = bot.create_group("Team", members={ALICE_USER: "creator"})
    payload = parse_qs(urlsplit(code["group_link"]).query)["startgroup"][0]
    assert code["group_link"].startswith(f"https://t.me/{BOT_USERNAME}?")

    # The user picks the group: Telegram adds the bot and posts /start@<bot> <payload> there.
    bot.add_bot_to_group(chat_id, by=ALICE_USER, start=payload)
    handled = poll()

    assert [next(key for key in each if key != "update_id") for each in handled] == ["my_chat_member", "message"]
    [destination] = listed(alice_api)
    assert (destination["label"], destination["kind"], destination["chat_id"]) == ("team", "group", chat_id)
    assert replies(bot, chat_id) == [text("ru", "linked_group", username="alice", label="team")]


def test_start_addressed_to_another_bot_links_nothing(bot, alice_api):
    # An administrator bot sees every message, another bot's commands included.
    chat_id = new_group(bot, admin=True)
    code = new_code(alice_api, "team")["code"]

    bot.group_user_says(chat_id, ALICE_USER, f"/start@OtherBot {code}")
    assert len(poll()) == 1

    assert listed(alice_api) == []
    assert bot.sent() == []
    # The code was not used up: addressed to us it links.
    bot.group_user_says(chat_id, ALICE_USER, f"/start@{BOT_USERNAME} {code}")
    poll()
    assert [each["chat_id"] for each in listed(alice_api)] == [chat_id]


def test_start_addressed_to_another_bot_links_nothing_as_the_update_arrives(tg, alice_api):
    code = new_code(alice_api, "team")["code"]

    handle_update(group_message(-4001, f"/start@OtherBot {code}"))

    assert listed(alice_api) == []
    assert tg.sent() == []


@pytest.mark.parametrize("name", [BOT_USERNAME, BOT_USERNAME.upper()])
def test_start_as_telegram_sends_it_links_the_group(tg, alice_api, name):
    code = new_code(alice_api, "team")["code"]

    handle_update(group_message(-4001, f"/start@{name} {code}", title="Night Shift", language_code="en"))

    [destination] = listed(alice_api)
    assert (destination["chat_id"], destination["kind"], destination["title"]) == (-4001, "group", "Night Shift")
    assert replies(tg, -4001) == [text("en", "linked_group", username="alice", label="team")]


@pytest.fixture(params=["unknown", "used", "expired", "replaced"])
def spoilt_code(request, bot, alice_api, settings) -> str:
    """A code of the right shape that links nothing: never issued, redeemed already, expired, or replaced."""
    if request.param == "unknown":
        return secrets.token_urlsafe(32)
    if request.param == "expired":
        settings.LINK_CODE_TTL = timedelta(0)
        return new_code(alice_api, "team")["code"]
    code = new_code(alice_api, "team")["code"]
    if request.param == "replaced":
        new_code(alice_api, "team")
        return code
    other = new_group(bot, "Elsewhere")
    bot.group_user_says(other, ALICE_USER, f"/start {code}")
    poll()
    return code


def test_a_code_that_is_not_valid_links_nothing_and_the_group_is_told(bot, alice_api, spoilt_code):
    chat_id = new_group(bot)
    before = listed(alice_api)

    bot.group_user_says(chat_id, ALICE_USER, f"/start@{BOT_USERNAME} {spoilt_code}")
    poll()

    assert listed(alice_api) == before
    assert replies(bot, chat_id) == [text("ru", "code_invalid")]


@pytest.mark.parametrize("command", ["/start", f"/help@{BOT_USERNAME}", "/help"])
def test_start_without_a_code_and_help_explain_how_to_link(bot, alice_api, command):
    chat_id = new_group(bot)

    bot.group_user_says(chat_id, ALICE_USER, command)
    poll()

    assert replies(bot, chat_id) == [text("ru", "group_help", bot=BOT_USERNAME)]
    assert listed(alice_api) == []


def test_chatter_in_a_group_gets_no_answer(bot, alice_api):
    chat_id = new_group(bot, admin=True)
    code = new_code(alice_api, "team")["code"]

    for words in ("hello", code, f"see {code}", "/weather@OtherBot"):
        bot.group_user_says(chat_id, BOB_USER, words)
    assert len(poll()) == 4

    assert bot.sent() == []
    assert listed(alice_api) == []


def test_two_accounts_linking_the_same_group_each_get_their_own_destination(bot, alice_api, bob_api):
    chat_id = new_group(bot)

    alices = link_here(bot, alice_api, chat_id, "team")
    bot.group_user_says(chat_id, BOB_USER, new_code(bob_api, "ops")["start_command"])
    poll()
    [bobs] = listed(bob_api)

    assert [each["id"] for each in listed(alice_api)] == [alices["id"]]
    assert (bobs["label"], bobs["chat_id"]) == ("ops", chat_id)
    assert bobs["id"] != alices["id"]
    assert replies(bot, chat_id) == [
        text("ru", "linked_group", username="alice", label="team"),
        text("ru", "linked_group", username="bob", label="ops"),
    ]
    accepted(alice_api, "from alice", to="team")
    accepted(bob_api, "from bob", to="ops")
    deliver()
    assert replies(bot, chat_id)[2:] == [delivered_text("Alice", "from alice"), delivered_text("Bob", "from bob")]


def test_linking_the_group_again_keeps_one_destination(bot, alice_api):
    chat_id = new_group(bot)
    first = link_here(bot, alice_api, chat_id, "team")

    again = link_here(bot, alice_api, chat_id, "other")

    assert again["id"] == first["id"]
    assert [each["label"] for each in listed(alice_api)] == ["team"]


# -- who the bot listens to in a group ------------------------------------------------

SUPERGROUP = {"id": -1001000000321, "title": "Team", "type": "supergroup"}


def test_an_anonymous_administrator_links_the_group(tg, alice_api):
    code = new_code(alice_api, "team")["start_command"]

    handle_update(
        group_message(SUPERGROUP["id"], code, chat_type="supergroup", sender=ANONYMOUS_ADMIN, sender_chat=SUPERGROUP)
    )

    assert [(each["label"], each["chat_id"]) for each in listed(alice_api)] == [("team", SUPERGROUP["id"])]
    assert replies(tg, SUPERGROUP["id"]) == [text("ru", "linked_group", username="alice", label="team")]


def test_an_anonymous_administrator_may_stop(tg, alice_api):
    handle_update(group_message(SUPERGROUP["id"], new_code(alice_api, "team")["start_command"], chat_type="supergroup"))

    handle_update(
        group_message(SUPERGROUP["id"], "/stop", chat_type="supergroup", sender=ANONYMOUS_ADMIN, sender_chat=SUPERGROUP)
    )

    assert listed(alice_api) == []
    assert replies(tg, SUPERGROUP["id"])[-1] == text("ru", "stopped_group", usernames="alice")


def test_other_bots_in_the_group_are_not_listened_to(tg, alice_api):
    other_bot = {"id": 5550001, "is_bot": True, "first_name": "Echo", "username": "echo_bot"}
    # A channel's post forwarded into its discussion group has the channel as sender_chat, not the group.
    channel = {"id": -1001000000654, "title": "News", "type": "channel"}
    code = new_code(alice_api, "team")["start_command"]

    handle_update(group_message(SUPERGROUP["id"], code, chat_type="supergroup", sender=other_bot))
    handle_update(
        group_message(SUPERGROUP["id"], "/stop", chat_type="supergroup", sender=other_bot, sender_chat=channel)
    )

    assert listed(alice_api) == []
    assert tg.sent() == []


def test_a_reply_in_a_supergroup_that_is_no_forum_links_the_group_not_a_topic(tg, alice_api):
    # Telegram gives replies in a supergroup a message_thread_id; only is_topic_message makes it a topic.
    code = new_code(alice_api, "team")["start_command"]

    handle_update(group_message(SUPERGROUP["id"], code, chat_type="supergroup", message_thread_id=40))

    [destination] = listed(alice_api)
    assert (destination["kind"], destination["thread_id"]) == ("supergroup", None)
    assert "message_thread_id" not in tg.sent()[0]


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ({"status": "restricted", "can_send_messages": False, "is_member": True, "until_date": 0}, SUPERGROUP_KICKED),
        ({"status": "restricted", "can_send_messages": True, "is_member": True, "until_date": 0}, ""),
        ({"status": "kicked", "until_date": 0}, SUPERGROUP_KICKED),
        ({"status": "left"}, SUPERGROUP_LEFT),
    ],
    ids=["muted", "restricted but may write", "kicked", "left"],
)
def test_the_bots_membership_as_telegram_sends_it(tg, alice_api, member, reason):
    handle_update(group_message(SUPERGROUP["id"], new_code(alice_api, "team")["start_command"], chat_type="supergroup"))
    bot_user = {"id": 7000000001, "is_bot": True, "first_name": "tg-relay demo", "username": BOT_USERNAME}
    change = {
        "chat": SUPERGROUP,
        "from": {"id": ALICE_USER, "is_bot": False, "first_name": "Alice"},
        "date": 1767225600,
        "old_chat_member": {"status": "member", "user": bot_user},
        "new_chat_member": {**member, "user": bot_user},
    }

    handle_update({"update_id": 960_000_001, "my_chat_member": change})

    assert listed(alice_api)[0]["unreachable_reason"] == reason


# -- the code's message ---------------------------------------------------------------


@pytest.mark.parametrize("supergroup", [False, True], ids=["group", "supergroup"])
def test_the_codes_message_is_deleted_where_the_bot_may_delete(bot, alice_api, supergroup):
    chat_id = new_group(bot, supergroup=supergroup, admin=True)

    bot.group_user_says(chat_id, ALICE_USER, new_code(alice_api, "team")["start_command"])
    [update] = poll()

    assert bot.deleted() == [{"chat_id": chat_id, "message_id": update["message"]["message_id"]}]
    assert listed(alice_api)[0]["chat_id"] == chat_id
    # The bot's answer stays.
    assert replies(bot, chat_id) == [text("ru", "linked_group", username="alice", label="team")]


def test_without_the_right_to_delete_the_code_stays_and_the_group_is_linked_all_the_same(bot, alice_api):
    chat_id = new_group(bot)

    bot.group_user_says(chat_id, ALICE_USER, new_code(alice_api, "team")["start_command"])
    poll()

    # The bot tried; Telegram refused.
    assert bot.request_counts()["counts"]["deleteMessage"] == 1
    assert bot.deleted() == []
    assert [each["chat_id"] for each in listed(alice_api)] == [chat_id]
    assert replies(bot, chat_id) == [text("ru", "linked_group", username="alice", label="team")]


def test_an_invalid_code_is_deleted_too(bot, alice_api):
    chat_id = new_group(bot, admin=True)

    bot.group_user_says(chat_id, ALICE_USER, f"/start {secrets.token_urlsafe(32)}")
    [update] = poll()

    assert bot.deleted() == [{"chat_id": chat_id, "message_id": update["message"]["message_id"]}]


# -- forum topics ---------------------------------------------------------------------


@pytest.fixture
def forum(bot) -> int:
    return new_group(bot, "Team", forum=True)


def test_start_in_a_forum_topic_links_the_topic_and_answers_in_it(bot, alice_api, forum):
    thread_id = bot.create_topic(forum, "Alerts")

    destination = link_here(bot, alice_api, forum, "alerts", thread_id=thread_id)

    assert destination["kind"] == "topic"
    assert destination["thread_id"] == thread_id
    assert destination["title"] == "Team / Alerts"
    assert destination["label"] == "alerts"
    [reply] = bot.sent(chat_id=forum)
    assert reply["text"] == text("ru", "linked_topic", username="alice", label="alerts")
    assert reply["message_thread_id"] == thread_id


def test_start_outside_any_topic_links_the_whole_forum(bot, alice_api, forum):
    destination = link_here(bot, alice_api, forum, "team")

    assert (destination["kind"], destination["thread_id"]) == ("supergroup", None)


def test_messages_sent_to_a_topic_arrive_in_its_thread(bot, alice_linked, forum):
    alerts = bot.create_topic(forum, "Alerts")
    builds = bot.create_topic(forum, "Builds")
    link_here(bot, alice_linked, forum, "alerts", thread_id=alerts)
    link_here(bot, alice_linked, forum, "builds", thread_id=builds)
    replied = len(bot.sent(chat_id=forum))

    first = accepted(alice_linked, "disk full", to="alerts")
    accepted(alice_linked, "build 7 green", to="builds")
    accepted(alice_linked, "to my private chat")
    deliver()

    delivered = bot.sent(chat_id=forum)[replied:]
    assert [(each["message_thread_id"], each["text"]) for each in delivered] == [
        (alerts, delivered_text("Alice", "disk full")),
        (builds, delivered_text("Alice", "build 7 green")),
    ]
    assert replies(bot, ALICE_CHAT) == [delivered_text("Alice", "to my private chat")]
    assert first["destination"] == named(alice_linked, "alerts")["id"]
    listed_there = alice_linked.get("/api/v1/messages/?destination=alerts").json()["results"]
    assert [(each["text"], each["status"]) for each in listed_there] == [("disk full", "sent")]


def test_a_closed_topic_refuses_messages_until_it_is_reopened(bot, alice_api, forum):
    alerts = bot.create_topic(forum, "Alerts")
    builds = bot.create_topic(forum, "Builds")
    link_here(bot, alice_api, forum, "alerts", thread_id=alerts)
    link_here(bot, alice_api, forum, "builds", thread_id=builds)

    bot.close_topic(forum, alerts)
    poll()

    assert named(alice_api, "alerts")["unreachable_reason"] == TOPIC_CLOSED
    refused = send(alice_api, "disk full", to="alerts")
    assert refused.status_code == 409
    assert refused.json()["code"] == "chat_unreachable"
    # The forum's other topics are open.
    assert named(alice_api, "builds")["unreachable_reason"] == ""
    assert send(alice_api, "build 7 green", to="builds").status_code == 202

    bot.reopen_topic(forum, alerts)
    poll()

    assert named(alice_api, "alerts")["unreachable_reason"] == ""
    assert send(alice_api, "disk full", to="alerts").status_code == 202


def test_a_deleted_topic_fails_the_message_and_becomes_unreachable(bot, alice_api, forum):
    alerts = bot.create_topic(forum, "Alerts")
    link_here(bot, alice_api, forum, "alerts", thread_id=alerts)
    # Telegram tells the bot nothing when a topic is deleted: the send finds out.
    bot.delete_topic(forum, alerts)

    lost = accepted(alice_api, "disk full", to="alerts")
    deliver()

    failed = message(alice_api, lost["id"])
    assert failed["status"] == "failed"
    assert THREAD_NOT_FOUND in failed["error"]
    assert named(alice_api, "alerts")["unreachable_reason"] == THREAD_NOT_FOUND
    assert send(alice_api, "again", to="alerts").status_code == 409


# -- the bot's membership -------------------------------------------------------------


REMOVALS = {
    "kicked from a group": (False, True, KICKED),
    "left a group": (False, False, LEFT),
    "kicked from a supergroup": (True, True, SUPERGROUP_KICKED),
    "left a supergroup": (True, False, SUPERGROUP_LEFT),
}


@pytest.mark.parametrize(("supergroup", "kicked", "reason"), list(REMOVALS.values()), ids=list(REMOVALS))
def test_removing_the_bot_makes_every_accounts_destination_there_unreachable_until_it_is_back(
    bot, alice_linked, bob_api, supergroup, kicked, reason
):
    chat_id = new_group(bot, supergroup=supergroup)
    link_here(bot, alice_linked, chat_id, "team")
    link_here(bot, bob_api, chat_id, "ops")

    bot.remove_bot(chat_id, kicked=kicked)
    poll()

    assert named(alice_linked, "team")["unreachable_reason"] == reason
    assert named(bob_api, "ops")["unreachable_reason"] == reason
    refused = send(alice_linked, "hello", to="team")
    assert refused.status_code == 409
    assert refused.json()["code"] == "chat_unreachable"
    assert send(bob_api, "hello", to="ops").status_code == 409
    # Alice's other destination is another chat.
    assert send(alice_linked, "hello").status_code == 202

    bot.add_bot_to_group(chat_id, by=ALICE_USER)
    poll()

    assert named(alice_linked, "team")["unreachable_reason"] == ""
    assert send(alice_linked, "hello", to="team").status_code == 202
    assert send(bob_api, "hello", to="ops").status_code == 202


def test_a_closed_topic_stays_unreachable_when_the_bot_is_promoted(bot, alice_api, forum):
    alerts = bot.create_topic(forum, "Alerts")
    link_here(bot, alice_api, forum, "alerts", thread_id=alerts)
    link_here(bot, alice_api, forum, "team")
    bot.close_topic(forum, alerts)
    poll()

    bot.set_bot_rights(forum, status="administrator")
    assert len(poll()) == 1

    assert named(alice_api, "alerts")["unreachable_reason"] == TOPIC_CLOSED
    assert named(alice_api, "team")["unreachable_reason"] == ""


def test_a_closed_topic_is_refused_while_the_bot_is_away(bot, alice_api, forum):
    alerts = bot.create_topic(forum, "Alerts")
    link_here(bot, alice_api, forum, "alerts", thread_id=alerts)
    bot.close_topic(forum, alerts)
    poll()

    bot.remove_bot(forum)
    poll()

    assert send(alice_api, "hello", to="alerts").status_code == 409


def test_a_closed_topic_stays_unreachable_when_the_bot_is_added_back(bot, alice_api, forum):
    alerts = bot.create_topic(forum, "Alerts")
    link_here(bot, alice_api, forum, "alerts", thread_id=alerts)
    link_here(bot, alice_api, forum, "team")
    bot.close_topic(forum, alerts)
    poll()
    bot.remove_bot(forum)
    poll()

    bot.add_bot_to_group(forum, by=ALICE_USER)
    poll()

    assert named(alice_api, "team")["unreachable_reason"] == ""
    assert named(alice_api, "alerts")["unreachable_reason"] == TOPIC_CLOSED


# -- /stop ----------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [ALICE_USER, CAROL_USER], ids=["creator", "administrator"])
def test_stop_from_an_administrator_unlinks_every_accounts_destination_in_the_group(bot, alice_api, bob_api, admin):
    chat_id = new_group(bot)
    link_here(bot, alice_api, chat_id, "team")
    link_here(bot, bob_api, chat_id, "ops")
    queued = accepted(alice_api, "waiting", to="team")

    bot.group_user_says(chat_id, admin, f"/stop@{BOT_USERNAME}")
    poll()

    assert listed(alice_api) == []
    assert listed(bob_api) == []
    assert replies(bot, chat_id)[-1] == text("ru", "stopped_group", usernames="alice, bob")
    failed = message(alice_api, queued["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "Not delivered: the chat was unlinked."


def test_stop_from_an_ordinary_member_unlinks_nothing(bot, alice_api):
    chat_id = new_group(bot)
    destination = link_here(bot, alice_api, chat_id, "team")
    queued = accepted(alice_api, "waiting", to="team")

    bot.group_user_says(chat_id, BOB_USER, "/stop")
    poll()

    assert replies(bot, chat_id)[-1] == text("ru", "stop_not_admin")
    assert listed(alice_api) == [destination]
    assert message(alice_api, queued["id"])["status"] == "queued"


def test_stop_unlinks_nothing_when_telegram_cannot_say_who_is_asking(bot, alice_api):
    chat_id = new_group(bot)
    destination = link_here(bot, alice_api, chat_id, "team")
    bot.add_fault(kind="500", method="getChatMember", times=-1)

    bot.group_user_says(chat_id, ALICE_USER, f"/stop@{BOT_USERNAME}")
    poll()

    assert listed(alice_api) == [destination]


def test_stop_in_a_topic_unlinks_only_that_topic(bot, alice_api, forum):
    alerts = bot.create_topic(forum, "Alerts")
    builds = bot.create_topic(forum, "Builds")
    link_here(bot, alice_api, forum, "alerts", thread_id=alerts)
    link_here(bot, alice_api, forum, "builds", thread_id=builds)

    bot.group_user_says(forum, ALICE_USER, f"/stop@{BOT_USERNAME}", thread_id=alerts)
    poll()

    assert [each["label"] for each in listed(alice_api)] == ["builds"]
    reply = bot.sent(chat_id=forum)[-1]
    assert (reply["text"], reply["message_thread_id"]) == (text("ru", "stopped_group", usernames="alice"), alerts)


def test_stop_where_nothing_is_linked_says_so(bot):
    chat_id = new_group(bot)

    bot.group_user_says(chat_id, ALICE_USER, "/stop")
    poll()

    assert replies(bot, chat_id) == [text("ru", "not_linked")]


# -- a group becomes a supergroup -----------------------------------------------------


def test_the_upgrade_moves_the_destination_and_its_queue_to_the_supergroup(bot, alice_api):
    chat_id = new_group(bot)
    before = link_here(bot, alice_api, chat_id, "team")
    queued = [accepted(alice_api, f"message {n}", to="team") for n in range(3)]

    supergroup = bot.upgrade_group(chat_id)
    assert len(poll()) == 2

    after = named(alice_api, "team")
    assert (after["id"], after["chat_id"], after["kind"]) == (before["id"], supergroup, "supergroup")
    deliver()
    assert replies(bot, supergroup) == [delivered_text("Alice", f"message {n}") for n in range(3)]
    assert {message(alice_api, each["id"])["status"] for each in queued} == {"sent"}
    # Only the bot's answer to /start went to the old id.
    assert len(bot.sent(chat_id=chat_id)) == 1


UPGRADE_ORDERS = {
    "old group's only": ["to"],
    "new group's only": ["from"],
    "old group's first": ["to", "from"],
    "new group's first": ["from", "to"],
}


@pytest.mark.parametrize("order", list(UPGRADE_ORDERS.values()), ids=list(UPGRADE_ORDERS))
def test_either_upgrade_message_moves_the_destination_and_each_acts_once(tg, alice_api, order):
    old_id, new_id = -4005, -1001000000777
    handle_update(group_message(old_id, new_code(alice_api, "team")["start_command"]))
    queued = accepted(alice_api, "waiting")
    service = {
        "to": lambda: group_message(old_id, migrate_to_chat_id=new_id),
        "from": lambda: group_message(new_id, chat_type="supergroup", migrate_from_chat_id=old_id),
    }

    # Each message twice, as a second update: Telegram sends each once, but the upgrade is told twice.
    for each in order + order:
        handle_update(service[each]())

    [destination] = listed(alice_api)
    assert (destination["chat_id"], destination["kind"], destination["label"]) == (new_id, "supergroup", "team")
    assert message(alice_api, queued["id"])["destination"] == destination["id"]


def test_a_send_refused_for_the_upgrade_moves_the_destination_and_is_sent_again(bot, alice_api):
    chat_id = new_group(bot)
    link_here(bot, alice_api, chat_id, "team")
    supergroup = bot.upgrade_group(chat_id)
    # Delivery gets there before the bot has seen the upgrade's service messages.
    queued = [accepted(alice_api, f"message {n}", to="team") for n in range(3)]

    deliver()

    assert replies(bot, supergroup) == [delivered_text("Alice", f"message {n}") for n in range(3)]
    assert {message(alice_api, each["id"])["status"] for each in queued} == {"sent"}
    destination = named(alice_api, "team")
    assert (destination["chat_id"], destination["kind"]) == (supergroup, "supergroup")
    # The service messages, when they come, change nothing.
    assert len(poll()) == 2
    assert named(alice_api, "team") == destination


def test_an_account_that_had_linked_the_supergroup_keeps_that_destination(tg, alice_api):
    old_id, new_id = -4006, -1001000000888
    handle_update(group_message(old_id, new_code(alice_api, "old")["start_command"]))
    handle_update(group_message(new_id, new_code(alice_api, "new")["start_command"], chat_type="supergroup"))

    handle_update(group_message(old_id, migrate_to_chat_id=new_id))

    assert [(each["label"], each["chat_id"]) for each in listed(alice_api)] == [("new", new_id)]
