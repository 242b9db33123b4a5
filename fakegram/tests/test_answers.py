"""Button presses, answers to them, replies to the bot and edits in the simulated Telegram, over real HTTP."""

from collections.abc import Iterator

import httpx
import pytest

from fakegram.server import BOT_ID, FakeTelegram
from fakegram.tests.test_server import TOKEN, bot, control, error, send

USER = 42
OTHER = 43
CREATOR = 7
MEMBER = 9
MEMBERS = {str(CREATOR): "creator", str(MEMBER): "member"}
KEYBOARD = {
    "inline_keyboard": [
        [{"text": "Acknowledge", "callback_data": "ack:17"}, {"text": "Mute", "callback_data": "mute:17"}],
        [{"text": "Open", "url": "https://example.com/alerts/17"}],
    ]
}
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"
    " as a current content and reply markup of the message"
)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def take_updates(http: httpx.Client, tg: FakeTelegram, **fields) -> list[dict]:
    """Pending updates, confirmed so the next call returns only newer ones; no allowed_updates unless given."""
    updates = http.post(bot(tg, "getUpdates"), json=fields).json()["result"]
    if updates:
        http.post(bot(tg, "getUpdates"), json={**fields, "offset": updates[-1]["update_id"] + 1, "limit": 1})
    return updates


def ok(http: httpx.Client, tg: FakeTelegram, path: str, body: dict | None = None) -> dict:
    response = http.post(control(tg, path), json=body)
    assert response.status_code == 200, response.text
    return response.json()


def call(http: httpx.Client, tg: FakeTelegram, method: str, **fields) -> httpx.Response:
    return http.post(bot(tg, method), json=fields)


def alert(http: httpx.Client, tg: FakeTelegram, chat_id: int = USER, **extra) -> dict:
    """The bot's message with the keyboard, as sendMessage answered it."""
    response = send(http, tg, chat_id=chat_id, text="CPU high on db-1", reply_markup=KEYBOARD, **extra)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def user_message(http: httpx.Client, tg: FakeTelegram, text: str) -> int:
    """The user writes to the bot; the message's id."""
    return ok(http, tg, f"users/{USER}/messages", {"text": text})["message_id"]


def press(http: httpx.Client, tg: FakeTelegram, message: dict, user_id: int = USER, **button) -> dict:
    path = f"chats/{message['chat']['id']}/messages/{message['message_id']}/press"
    return ok(http, tg, path, {"from": user_id, **button})


def reply(http: httpx.Client, tg: FakeTelegram, message: dict, text: str, user_id: int = USER) -> dict:
    path = f"chats/{message['chat']['id']}/messages/{message['message_id']}/reply"
    return ok(http, tg, path, {"from": user_id, "text": text})


def answer(http: httpx.Client, tg: FakeTelegram, query_id: str, **fields) -> httpx.Response:
    return call(http, tg, "answerCallbackQuery", callback_query_id=query_id, **fields)


def edit_text(http: httpx.Client, tg: FakeTelegram, message: dict, text: str, **fields) -> httpx.Response:
    chat_id, message_id = message["chat"]["id"], message["message_id"]
    return call(http, tg, "editMessageText", chat_id=chat_id, message_id=message_id, text=text, **fields)


def edit_markup(http: httpx.Client, tg: FakeTelegram, message: dict, **fields) -> httpx.Response:
    chat_id, message_id = message["chat"]["id"], message["message_id"]
    return call(http, tg, "editMessageReplyMarkup", chat_id=chat_id, message_id=message_id, **fields)


def group_with_bot(http: httpx.Client, tg: FakeTelegram, **fields) -> int:
    chat_id = ok(http, tg, "groups", {"title": "Ops", "members": MEMBERS, **fields})["chat_id"]
    ok(http, tg, f"groups/{chat_id}/add_bot", {"by": CREATOR})
    return chat_id


# -- pressing a button -------------------------------------------------------------


def test_a_press_arrives_as_a_callback_query_with_the_bots_message(tg, http):
    tg.user_says(USER, "/start", username="alice")
    take_updates(http, tg)
    message = alert(http, tg)

    pressed = press(http, tg, message, data="ack:17")
    updates = take_updates(http, tg)

    assert updates == [
        {
            "update_id": pressed["update_id"],
            "callback_query": {
                "id": pressed["callback_query_id"],
                "from": {"id": USER, "is_bot": False, "first_name": "Alice", "username": "alice"},
                "message": message,
                "chat_instance": updates[0]["callback_query"]["chat_instance"],
                "data": "ack:17",
            },
        }
    ]
    query = updates[0]["callback_query"]
    assert isinstance(query["id"], str) and query["id"]
    assert isinstance(query["chat_instance"], str) and query["chat_instance"]
    assert query["message"]["from"]["id"] == BOT_ID
    assert query["message"]["reply_markup"] == KEYBOARD


def test_a_button_may_be_named_by_its_text_and_each_press_is_a_new_query(tg, http):
    message = alert(http, tg)
    elsewhere = alert(http, tg, chat_id=OTHER)

    by_text = press(http, tg, message, text="Mute")
    by_both = press(http, tg, message, text="Mute", data="mute:17")
    other_chat = press(http, tg, elsewhere, user_id=OTHER, data="ack:17")
    queries = [update["callback_query"] for update in take_updates(http, tg)]

    assert [query["data"] for query in queries] == ["mute:17", "mute:17", "ack:17"]
    assert len({by_text["callback_query_id"], by_both["callback_query_id"], other_chat["callback_query_id"]}) == 3
    # One chat_instance per chat.
    assert queries[0]["chat_instance"] == queries[1]["chat_instance"] != queries[2]["chat_instance"]


def test_callback_queries_come_by_default_and_obey_allowed_updates(tg, http):
    message = alert(http, tg)

    press(http, tg, message, data="ack:17")
    by_default = take_updates(http, tg)
    take_updates(http, tg, allowed_updates=["message"])
    press(http, tg, message, data="ack:17")
    left_out = take_updates(http, tg, allowed_updates=["message"])
    take_updates(http, tg, allowed_updates=["message", "callback_query"])
    press(http, tg, message, data="ack:17")
    asked_for = take_updates(http, tg, allowed_updates=["message", "callback_query"])

    assert [list(update)[1] for update in by_default] == ["callback_query"]
    assert left_out == []
    assert [list(update)[1] for update in asked_for] == ["callback_query"]


@pytest.mark.parametrize(
    ("button", "user_id", "reason"),
    [
        ({"text": "Open"}, USER, "opens a link"),
        ({"data": "nope"}, USER, "no button with data 'nope'"),
        ({"text": "Mute", "data": "ack:17"}, USER, "no button with data 'ack:17' and text 'Mute'"),
        ({}, USER, "name the button"),
        ({"data": "ack:17"}, OTHER, "only the user 42"),
    ],
)
def test_only_a_callback_button_of_the_chat_can_be_pressed(tg, http, button, user_id, reason):
    message = alert(http, tg)

    response = http.post(
        control(tg, f"chats/{USER}/messages/{message['message_id']}/press"), json={"from": user_id, **button}
    )

    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert take_updates(http, tg) == []


def test_there_is_nothing_to_press_on_a_message_without_buttons_or_not_the_bots(tg, http):
    plain = send(http, tg, chat_id=USER, text="no buttons").json()["result"]
    users = user_message(http, tg, "hi")

    without_buttons = http.post(
        control(tg, f"chats/{USER}/messages/{plain['message_id']}/press"), json={"from": USER, "text": "Mute"}
    )
    not_the_bots = http.post(control(tg, f"chats/{USER}/messages/{users}/press"), json={"from": USER, "text": "x"})
    unknown = http.post(control(tg, f"chats/{USER}/messages/999/press"), json={"from": USER, "text": "x"})

    assert without_buttons.status_code == not_the_bots.status_code == unknown.status_code == 400
    assert "no button with text 'Mute'" in without_buttons.json()["error"]
    assert "is not the bot's" in not_the_bots.json()["error"]
    assert "there is no message 999" in unknown.json()["error"]


def test_a_press_in_a_group_reaches_a_bot_that_is_still_there(tg, http):
    group = group_with_bot(http, tg)
    message = alert(http, tg, chat_id=group)
    take_updates(http, tg)

    pressed = press(http, tg, message, user_id=MEMBER, data="ack:17")
    updates = take_updates(http, tg)
    tg.remove_bot(group, by=CREATOR)
    after_removal = tg.press_button(group, message["message_id"], user_id=MEMBER, data="ack:17")

    assert [update["update_id"] for update in updates] == [pressed["update_id"]]
    query = updates[0]["callback_query"]
    assert query["from"]["id"] == MEMBER
    assert query["message"]["chat"] == {"id": group, "title": "Ops", "type": "group"}
    assert after_removal is None


# -- answering a press ---------------------------------------------------------------


def test_the_bot_answers_a_press_once(tg, http):
    message = alert(http, tg)
    query_id = press(http, tg, message, data="ack:17")["callback_query_id"]

    answered = answer(http, tg, query_id, text="Acknowledged", show_alert=True)
    again = answer(http, tg, query_id, text="Acknowledged")

    assert answered.json() == {"ok": True, "result": True}
    assert again.status_code == 400
    assert again.json() == error(400, QUERY_INVALID)
    answers = http.get(control(tg, "callback_answers")).json()["answers"]
    assert answers == [
        {
            "callback_query_id": query_id,
            "chat_id": USER,
            "message_id": message["message_id"],
            "user_id": USER,
            "data": "ack:17",
            "date": answers[0]["date"],
            "show_alert": True,
            "text": "Acknowledged",
        }
    ]
    assert tg.answered_callbacks() == answers
    assert [query["answered"] for query in http.get(control(tg, "callback_queries")).json()["queries"]] == [True]


def test_an_answer_without_text_is_recorded_without_it(tg, http):
    tg.press_button(USER, alert(http, tg)["message_id"], user_id=USER, data="mute:17")
    query_id = tg.callback_queries()[0]["id"]

    response = http.post(bot(tg, "answerCallbackQuery"), data={"callback_query_id": query_id})

    assert response.json() == {"ok": True, "result": True}
    (recorded,) = tg.answered_callbacks()
    assert recorded["show_alert"] is False
    assert "text" not in recorded
    assert recorded["data"] == "mute:17"


@pytest.mark.parametrize("query_id", ["4204000000000000999", "", None])
def test_an_unknown_query_cannot_be_answered(tg, http, query_id):
    press(http, tg, alert(http, tg), data="ack:17")

    response = call(http, tg, "answerCallbackQuery", **({} if query_id is None else {"callback_query_id": query_id}))

    assert response.status_code == 400
    assert response.json() == error(400, QUERY_INVALID)
    assert tg.answered_callbacks() == []


def test_an_answer_text_over_200_characters_is_refused_and_the_query_still_waits(tg, http):
    query_id = press(http, tg, alert(http, tg), data="ack:17")["callback_query_id"]

    too_long = answer(http, tg, query_id, text="x" * 201)
    longest = answer(http, tg, query_id, text="x" * 200)

    assert too_long.json() == error(400, "Bad Request: MESSAGE_TOO_LONG")
    assert longest.json() == {"ok": True, "result": True}


def test_answers_can_be_waited_for(tg, http):
    query_id = press(http, tg, alert(http, tg), data="ack:17")["callback_query_id"]
    answer(http, tg, query_id)

    done = http.get(control(tg, "wait_callback_answers"), params={"count": 1}).json()
    short = http.get(control(tg, "wait_callback_answers"), params={"count": 2, "timeout": 0}).json()

    assert done["complete"] is True
    assert [each["callback_query_id"] for each in done["answers"]] == [query_id]
    assert short["complete"] is False
    assert tg.wait_answered(1) == done["answers"]


def test_reset_forgets_queries_but_their_ids_are_never_reused(tg, http):
    first = press(http, tg, alert(http, tg), data="ack:17")["callback_query_id"]

    tg.reset()
    second = press(http, tg, alert(http, tg), data="ack:17")["callback_query_id"]

    assert first != second
    assert answer(http, tg, first).json() == error(400, QUERY_INVALID)
    assert answer(http, tg, second).json() == {"ok": True, "result": True}


# -- replying to the bot -------------------------------------------------------------


def test_a_reply_in_a_private_chat_carries_the_bots_message(tg, http):
    message = alert(http, tg)

    replied = reply(http, tg, message, "on it")
    updates = take_updates(http, tg)

    assert [update["update_id"] for update in updates] == [replied["update_id"]]
    sent = updates[0]["message"]
    assert sent["message_id"] == replied["message_id"] == message["message_id"] + 1
    assert sent["from"] == {"id": USER, "is_bot": False, "first_name": "Alice", "language_code": "ru"}
    assert sent["chat"]["id"] == USER
    assert sent["chat"]["type"] == "private"
    assert sent["text"] == "on it"
    assert sent["reply_to_message"] == message


def test_a_reply_is_a_users_message_in_their_own_chat_to_a_bot_message(tg, http):
    message = alert(http, tg)
    users = user_message(http, tg, "hi")

    someone_else = http.post(
        control(tg, f"chats/{USER}/messages/{message['message_id']}/reply"), json={"from": OTHER, "text": "x"}
    )
    to_the_user = http.post(control(tg, f"chats/{USER}/messages/{users}/reply"), json={"from": USER, "text": "x"})
    empty = http.post(
        control(tg, f"chats/{USER}/messages/{message['message_id']}/reply"), json={"from": USER, "text": ""}
    )

    assert someone_else.status_code == to_the_user.status_code == empty.status_code == 400
    assert "only the user 42" in someone_else.json()["error"]
    assert "is not the bot's" in to_the_user.json()["error"]
    assert "text must be a non-empty string" in empty.json()["error"]


def test_privacy_mode_lets_a_reply_to_the_bot_through_in_a_group(tg, http):
    group = group_with_bot(http, tg)
    message = alert(http, tg, chat_id=group)
    take_updates(http, tg)

    chatter = ok(http, tg, f"groups/{group}/messages", {"from": MEMBER, "text": "lunch?"})
    replied = tg.user_replies(group, message["message_id"], "silencing it", user_id=MEMBER, first_name="Bob")
    updates = take_updates(http, tg)

    assert chatter["update_id"] is None
    assert [update["update_id"] for update in updates] == [replied]
    sent = updates[0]["message"]
    assert sent["from"] == {"id": MEMBER, "is_bot": False, "first_name": "Bob"}
    assert sent["chat"] == {"id": group, "title": "Ops", "type": "group"}
    assert sent["reply_to_message"] == message


def test_a_reply_in_a_forum_topic_stays_in_the_topic(tg, http):
    forum = group_with_bot(http, tg, forum=True)
    thread = tg.create_topic(forum, "Alerts")
    message = alert(http, tg, chat_id=forum, message_thread_id=thread)
    take_updates(http, tg)

    reply(http, tg, message, "looking", user_id=MEMBER)
    (update,) = take_updates(http, tg)

    sent = update["message"]
    assert sent["message_thread_id"] == thread
    assert sent["is_topic_message"] is True
    assert sent["reply_to_message"]["message_id"] == message["message_id"]
    assert sent["reply_to_message"]["text"] == message["text"]
    # Telegram quotes one level deep.
    assert "reply_to_message" not in sent["reply_to_message"]


# -- editing -------------------------------------------------------------------------


def test_edit_text_changes_the_message_and_its_record_keeps_what_it_was(tg, http):
    message = alert(http, tg)
    entities = [{"type": "bold", "offset": 0, "length": 8}]
    resolved = {"inline_keyboard": [[{"text": "Reopen", "callback_data": "reopen:17"}]]}

    response = edit_text(http, tg, message, "Resolved: CPU high on db-1", entities=entities, reply_markup=resolved)

    assert response.status_code == 200, response.text
    edited = response.json()["result"]
    assert {key: edited[key] for key in ("message_id", "from", "chat", "date")} == {
        key: message[key] for key in ("message_id", "from", "chat", "date")
    }
    assert edited["edit_date"] >= message["date"]
    assert edited["text"] == "Resolved: CPU high on db-1"
    assert edited["entities"] == entities
    assert edited["reply_markup"] == resolved
    (record,) = tg.sent(USER)
    assert record == {
        "chat_id": USER,
        "message_id": message["message_id"],
        "text": "Resolved: CPU high on db-1",
        "date": message["date"],
        "entities": entities,
        "entity_problems": [],
        "reply_markup": resolved,
        "edits": [{"text": "CPU high on db-1", "reply_markup": KEYBOARD, "date": edited["edit_date"]}],
        "edited": True,
    }


def test_the_edited_message_is_what_presses_and_replies_show_after(tg, http):
    message = alert(http, tg)
    before = press(http, tg, message, data="ack:17")
    kept = {"inline_keyboard": [[{"text": "Mute", "callback_data": "mute:17"}]]}
    edited = edit_text(http, tg, message, "Acknowledged by Alice", reply_markup=kept).json()["result"]

    press(http, tg, message, data="mute:17")
    reply(http, tg, message, "thanks")
    updates = take_updates(http, tg)

    assert updates[0]["update_id"] == before["update_id"]
    assert updates[0]["callback_query"]["message"] == message
    assert updates[1]["callback_query"]["message"] == edited
    assert updates[2]["message"]["reply_to_message"] == edited
    assert edited["text"] == "Acknowledged by Alice"


def test_edit_text_without_a_keyboard_removes_it(tg, http):
    message = alert(http, tg)

    edited = edit_text(http, tg, message, "Resolved").json()["result"]
    gone = http.post(
        control(tg, f"chats/{USER}/messages/{message['message_id']}/press"), json={"from": USER, "data": "ack:17"}
    )

    assert "reply_markup" not in edited
    assert "reply_markup" not in tg.sent(USER)[0]
    assert gone.status_code == 400


def test_edit_text_may_use_html_like_send_message(tg, http):
    message = send(http, tg, chat_id=USER, text="plain").json()["result"]

    edited = edit_text(http, tg, message, "<b>bold</b> &amp; done", parse_mode="HTML").json()["result"]

    assert edited["text"] == "bold & done"
    record = tg.sent(USER)[0]
    assert record["text"] == "<b>bold</b> &amp; done"
    assert record["parse_mode"] == "HTML"
    assert record["edits"] == [{"text": "plain", "date": edited["edit_date"]}]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("CPU high on db-1", {"reply_markup": KEYBOARD}),
        ("CPU high on db-1", {"reply_markup": KEYBOARD, "entities": []}),
    ],
)
def test_an_edit_that_changes_nothing_is_refused(tg, http, text, fields):
    message = alert(http, tg)

    response = edit_text(http, tg, message, text, **fields)

    assert response.status_code == 400
    assert response.json() == error(400, NOT_MODIFIED)
    assert "edited" not in tg.sent(USER)[0]


def test_unchanged_text_with_other_entities_or_keyboard_is_a_change(tg, http):
    message = send(http, tg, chat_id=USER, text="Deploy done").json()["result"]

    same = edit_text(http, tg, message, "Deploy done")
    bold = edit_text(http, tg, message, "Deploy done", entities=[{"type": "bold", "offset": 0, "length": 6}])
    buttons = edit_text(http, tg, message, "Deploy done", reply_markup=KEYBOARD)

    assert same.json() == error(400, NOT_MODIFIED)
    assert bold.status_code == buttons.status_code == 200
    assert len(tg.sent(USER)[0]["edits"]) == 2


def test_edit_reply_markup_replaces_and_removes_the_keyboard(tg, http):
    message = alert(http, tg)
    smaller = {"inline_keyboard": [[{"text": "Mute", "callback_data": "mute:17"}]]}

    replaced = edit_markup(http, tg, message, reply_markup=smaller).json()["result"]
    same = edit_markup(http, tg, message, reply_markup=smaller)
    emptied = edit_markup(http, tg, message, reply_markup={"inline_keyboard": []}).json()["result"]
    absent = edit_markup(http, tg, message)

    assert replaced["reply_markup"] == smaller
    assert replaced["text"] == message["text"]
    assert same.json() == error(400, NOT_MODIFIED)
    assert "reply_markup" not in emptied
    assert absent.json() == error(400, NOT_MODIFIED)
    record = tg.sent(USER)[0]
    assert record["text"] == message["text"]
    assert record["reply_markup"] == {"inline_keyboard": []}
    assert [edit["reply_markup"] for edit in record["edits"]] == [KEYBOARD, smaller]
    assert record["edited"] is True


def test_only_the_bots_own_live_messages_can_be_edited(tg, http):
    message = alert(http, tg)
    users = user_message(http, tg, "hi")
    call(http, tg, "deleteMessage", chat_id=USER, message_id=message["message_id"])

    unknown = call(http, tg, "editMessageText", chat_id=USER, message_id=999, text="x")
    deleted = edit_text(http, tg, message, "x")
    not_the_bots = call(http, tg, "editMessageText", chat_id=USER, message_id=users, text="x")
    markup_of_users = call(http, tg, "editMessageReplyMarkup", chat_id=USER, message_id=users, reply_markup=KEYBOARD)
    unnamed = call(http, tg, "editMessageText", chat_id=USER, text="x")

    assert unknown.json() == deleted.json() == error(400, "Bad Request: message to edit not found")
    assert not_the_bots.json() == markup_of_users.json() == error(400, "Bad Request: message can't be edited")
    assert unnamed.json() == error(400, "Bad Request: message identifier is not specified")


def test_edits_have_no_time_limit(tg, http):
    message = alert(http, tg)
    ok(http, tg, f"chats/{USER}/messages/{message['message_id']}/age", {"seconds": 30 * 24 * 3600})

    response = edit_text(http, tg, message, "Resolved")

    assert response.status_code == 200, response.text


def test_a_message_with_a_reply_keyboard_cannot_be_edited_and_edits_take_inline_keyboards_only(tg, http):
    reply_keyboard = {"keyboard": [[{"text": "yes"}]]}
    with_reply_keyboard = send(http, tg, chat_id=USER, text="pick", reply_markup=reply_keyboard).json()["result"]
    plain = send(http, tg, chat_id=USER, text="plain").json()["result"]

    refused = edit_text(http, tg, with_reply_keyboard, "picked")
    wrong_markup = edit_text(http, tg, plain, "changed", reply_markup=reply_keyboard)
    wrong_markup_only = edit_markup(http, tg, plain, reply_markup={"remove_keyboard": True})

    assert refused.json() == error(400, "Bad Request: message can't be edited")
    assert wrong_markup.json() == wrong_markup_only.json() == error(400, "Bad Request: inline keyboard expected")


def test_edit_text_checks_text_and_entities_as_send_message_does(tg, http):
    message = alert(http, tg)
    bad_entities = [{"type": "bold", "offset": 0, "length": 99}]

    empty = edit_text(http, tg, message, " ")
    too_long = edit_text(http, tg, message, "x" * 4097)
    longest = edit_text(http, tg, message, "x" * 4096)
    entities = edit_text(http, tg, message, "short", entities=bad_entities)
    sent_with_them = send(http, tg, chat_id=USER, text="short", entities=bad_entities)

    assert empty.json() == error(400, "Bad Request: message text is empty")
    assert too_long.json() == error(400, "Bad Request: MESSAGE_TOO_LONG")
    assert longest.status_code == 200
    assert entities.status_code == 400
    assert entities.json() == sent_with_them.json()


def test_a_document_has_no_text_to_edit_but_its_keyboard_can_change(tg, http):
    response = http.post(
        bot(tg, "sendDocument"),
        data={"chat_id": str(USER), "caption": "report"},
        files={"document": ("report.txt", b"all good", "text/plain")},
    )
    document = response.json()["result"]

    text = edit_text(http, tg, document, "new")
    markup = edit_markup(http, tg, document, reply_markup=KEYBOARD)

    assert text.json() == error(400, "Bad Request: there is no text in the message to edit")
    assert markup.json()["result"]["reply_markup"] == KEYBOARD
    assert markup.json()["result"]["caption"] == "report"
    record = tg.sent(USER)[0]
    assert record["caption"] == "report"
    assert record["edits"] == [{"caption": "report", "date": markup.json()["result"]["edit_date"]}]


def test_edits_in_a_chat_the_bot_cannot_reach_are_forbidden(tg, http):
    message = alert(http, tg)
    tg.user_blocks_bot(USER)

    response = edit_text(http, tg, message, "Resolved")

    assert response.status_code == 403
    assert response.json() == error(403, "Forbidden: bot was blocked by the user")


# -- deleting one part of a split message --------------------------------------------


def test_deleting_one_part_of_a_split_message_leaves_the_others(tg, http):
    parts = [send(http, tg, chat_id=USER, text=f"part {n}/3").json()["result"] for n in (1, 2, 3)]

    deleted = call(http, tg, "deleteMessage", chat_id=USER, message_id=parts[1]["message_id"])
    edit_deleted = edit_text(http, tg, parts[1], "gone")
    reply_deleted = http.post(
        control(tg, f"chats/{USER}/messages/{parts[1]['message_id']}/reply"), json={"from": USER, "text": "x"}
    )
    edit_kept = edit_text(http, tg, parts[2], "part 3/3, edited")

    assert deleted.json() == {"ok": True, "result": True}
    assert edit_deleted.json() == error(400, "Bad Request: message to edit not found")
    assert reply_deleted.status_code == 400
    assert edit_kept.status_code == 200
    records = tg.sent(USER)
    assert [record.get("deleted", False) for record in records] == [False, True, False]
    assert [record["text"] for record in records] == ["part 1/3", "part 2/3", "part 3/3, edited"]
    assert tg.deleted(USER) == [{"chat_id": USER, "message_id": parts[1]["message_id"]}]
