"""Questions: answer buttons and replies recorded once, in the right chat, until they expire; waiting for them.

The person's side is played at the simulated Telegram (a press, a reply),
the bot gets it through polling, and the answer is read back through the API.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conftest import ALICE_CHAT, BOB_CHAT, poll_bot
from relay import answers
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL, get_message, message_url
from relaybot.texts import text

pytestmark = pytest.mark.django_db(transaction=True)

SHIP = [[{"text": "Ship it", "answer": "yes"}, {"text": "Stop", "answer": "no"}]]


def ask(api, **body) -> dict:
    response = api.post(MESSAGES_URL, {"text": "Ship v2.3?", "buttons": SHIP, **body}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def sent_question(tg, chat_id: int = ALICE_CHAT) -> dict:
    (record,) = [r for r in tg.sent(chat_id=chat_id) if "reply_markup" in r]
    return record


def test_a_press_is_the_answer_and_the_buttons_become_the_choice(tg, alice_linked):
    asked = ask(alice_linked)
    record = sent_question(tg)
    assert [b["text"] for b in record["reply_markup"]["inline_keyboard"][0]] == ["Ship it", "Stop"]
    data = record["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    tg.press_button(ALICE_CHAT, record["message_id"], user_id=ALICE_CHAT, data=data)
    poll_bot()

    answer = get_message(alice_linked, asked["id"])["answer"]
    assert (answer["value"], answer["kind"]) == ("yes", "button")
    assert answer["by"]
    (answered,) = tg.answered_callbacks()
    assert answered["text"] == text("ru", "answer_recorded", value="yes")
    edited = sent_question(tg)
    assert edited["reply_markup"]["inline_keyboard"] == [[{"text": "✓ Ship it", "callback_data": "ans:done"}]]


def test_a_second_press_is_refused_politely_and_the_first_answer_stays(tg, alice_linked):
    asked = ask(alice_linked)
    record = sent_question(tg)
    yes = record["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    tg.press_button(ALICE_CHAT, record["message_id"], user_id=ALICE_CHAT, data=yes)
    poll_bot()

    tg.press_button(ALICE_CHAT, record["message_id"], user_id=ALICE_CHAT, text="✓ Ship it")
    poll_bot()

    assert get_message(alice_linked, asked["id"])["answer"]["value"] == "yes"
    assert tg.answered_callbacks()[-1]["text"] == text("ru", "answer_already", value="yes")


def test_of_two_answers_at_once_exactly_one_is_recorded(tg, alice_linked):
    asked = ask(alice_linked)
    record = sent_question(tg)
    rows = record["reply_markup"]["inline_keyboard"][0]
    outcomes = []
    barrier = threading.Barrier(len(rows) * 3)

    def press(data: str) -> None:
        barrier.wait()
        outcome = answers.answer_by_button(
            chat_id=ALICE_CHAT, telegram_message_id=record["message_id"], data=data, by="@alice"
        )
        outcomes.append(outcome.result)
        connection.close()

    threads = [threading.Thread(target=press, args=(b["callback_data"],)) for b in rows * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count(answers.RECORDED) == 1
    assert outcomes.count(answers.ALREADY_ANSWERED) == len(threads) - 1
    assert get_message(alice_linked, asked["id"])["answer"]["value"] in ("yes", "no")


def test_an_answer_after_the_question_expired_is_refused(tg, alice_linked):
    asked = ask(alice_linked, expires_at=(timezone.now() + timedelta(minutes=5)).isoformat())
    Message.objects.filter(pk=asked["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    record = sent_question(tg)

    data = record["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    tg.press_button(ALICE_CHAT, record["message_id"], user_id=ALICE_CHAT, data=data)
    poll_bot()

    assert get_message(alice_linked, asked["id"])["answer"] is None
    assert tg.answered_callbacks()[-1]["text"] == text("ru", "answer_expired")


def test_a_press_in_another_chat_answers_nothing(tg, alice_linked, bob_linked):
    asked = ask(alice_linked)
    record = sent_question(tg)
    data = record["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    bob_question = ask(bob_linked)
    bob_record = sent_question(tg, BOB_CHAT)

    # alice's button data, pressed on bob's message in bob's chat.
    tg.press_button(BOB_CHAT, bob_record["message_id"], user_id=BOB_CHAT, text="Ship it")
    tg.push_update({"callback_query": {
        "id": "forged", "from": {"id": BOB_CHAT, "is_bot": False, "first_name": "Bob"},
        "message": {"message_id": bob_record["message_id"], "chat": {"id": BOB_CHAT, "type": "private"}, "date": 0},
        "chat_instance": "2", "data": data,
    }})  # fmt: skip
    poll_bot()

    assert get_message(alice_linked, asked["id"])["answer"] is None
    assert get_message(bob_linked, bob_question["id"])["answer"]["value"] == "yes"


def test_a_reply_is_the_answer_of_a_question_that_takes_replies(tg, alice_linked):
    asked = alice_linked.post(MESSAGES_URL, {"text": "Which snapshot?", "accept_reply": True}, format="json").json()
    (record,) = tg.sent(chat_id=ALICE_CHAT)

    tg.user_replies(ALICE_CHAT, record["message_id"], "the one from Monday", user_id=ALICE_CHAT)
    poll_bot()

    answer = get_message(alice_linked, asked["id"])["answer"]
    assert (answer["value"], answer["kind"]) == ("the one from Monday", "reply")
    assert (
        "recorded" in tg.sent(chat_id=ALICE_CHAT)[-1]["text"].lower()
        or "принят" in tg.sent(chat_id=ALICE_CHAT)[-1]["text"]
    )


def test_a_reply_to_a_plain_message_is_no_answer(tg, alice_linked):
    sent = alice_linked.post(MESSAGES_URL, {"text": "FYI"}, format="json").json()
    (record,) = tg.sent(chat_id=ALICE_CHAT)

    tg.user_replies(ALICE_CHAT, record["message_id"], "thanks", user_id=ALICE_CHAT)
    poll_bot()

    assert get_message(alice_linked, sent["id"])["answer"] is None


def test_a_button_needs_a_url_or_an_answer(alice_linked):
    for button in ({"text": "b", "url": "https://x.example", "answer": "y"}, {"text": "b"}):
        response = alice_linked.post(MESSAGES_URL, {"text": "x", "buttons": [button]}, format="json")
        assert response.status_code == 400
        assert "buttons" in response.json()


def test_a_wait_returns_as_soon_as_the_answer_comes(tg, alice_linked, settings):
    settings.WAIT_SLOTS = 4
    asked = ask(alice_linked)
    record = sent_question(tg)
    data = record["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    results = {}

    def wait() -> None:
        started = time.monotonic()
        results["body"] = alice_linked.get(message_url(asked["id"]), {"wait": 30}).json()
        results["took"] = time.monotonic() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()
    tg.press_button(ALICE_CHAT, record["message_id"], user_id=ALICE_CHAT, data=data)
    poll_bot()
    waiter.join(10)

    assert results["body"]["answer"]["value"] == "no"
    assert results["took"] < 10


def test_without_a_spare_thread_a_wait_answers_at_once(tg, alice_linked, settings):
    settings.WAIT_SLOTS = 0
    asked = ask(alice_linked)

    started = time.monotonic()
    body = alice_linked.get(message_url(asked["id"]), {"wait": 30}).json()

    assert body["answer"] is None
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("wait", ["-1", "301", "soon"])
def test_a_bad_wait_is_400(alice_linked, wait):
    asked = ask(alice_linked)
    response = alice_linked.get(message_url(asked["id"]), {"wait": wait})
    assert response.status_code == 400
    assert "wait" in response.json()
