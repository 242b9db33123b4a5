"""A question's answer on the message pages, a message's title, format and schedule, and cancelling a queued one."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cabinet.tests.pages import post, shown
from conftest import ALICE_CHAT, poll_bot
from relay.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = reverse("cabinet:messages")
SHIP = [[{"text": "Ship it", "answer": "yes"}, {"text": "Stop", "answer": "no"}]]


def page_of(message_id: int) -> str:
    return reverse("cabinet:message", args=[message_id])


def cancel_url(message_id: int) -> str:
    return reverse("cabinet:message-cancel", args=[message_id])


def press(tg, choice: int = 0) -> None:
    """Alice presses an answer button under the question in her chat."""
    (record,) = [r for r in tg.sent(chat_id=ALICE_CHAT) if "reply_markup" in r]
    data = record["reply_markup"]["inline_keyboard"][0][choice]["callback_data"]
    tg.press_button(ALICE_CHAT, record["message_id"], user_id=ALICE_CHAT, data=data)
    poll_bot()


def test_a_pressed_answer_is_shown_with_who_answered_and_when(tg, alice_linked, alice_web):
    asked = post(alice_linked, text="Ship v2.3?", buttons=SHIP, accept_reply=True)
    before = shown(alice_web.get(page_of(asked["id"])).content.decode())
    assert "Answer buttons Ship it, Stop" in before
    assert "A reply is an answer yes" in before
    assert "waiting for an answer" in before

    press(tg)

    answer = Message.objects.get(pk=asked["id"]).answer
    detail = alice_web.get(page_of(asked["id"])).content.decode()
    facts = shown(detail)
    assert "answered yes · by a button" in facts
    assert f"from {answer['by']}" in facts
    assert "waiting for an answer" not in facts
    at = datetime.fromisoformat(answer["at"])
    assert f'<time datetime="{at.isoformat()}"' in detail
    listed = shown(alice_web.get(MESSAGES).content.decode())
    assert "answered yes · by a button" in listed


def test_a_question_nobody_answered_in_time_is_expired(tg, alice_linked, alice_web):
    asked = post(alice_linked, text="Restart?", buttons=SHIP)
    Message.objects.filter(pk=asked["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))

    facts = shown(alice_web.get(page_of(asked["id"])).content.decode())

    assert "expired No answer came in time." in facts
    assert "waiting for an answer" not in facts
    # A message that asks nothing has no answer to show.
    plain = post(alice_linked, text="Just so you know")
    assert "Question" not in shown(alice_web.get(page_of(plain["id"])).content.decode())


def test_title_format_and_schedule_are_shown_and_a_queued_message_is_cancelled(tg, alice_linked, alice_web):
    later = timezone.now() + timedelta(hours=1)
    scheduled = post(
        alice_linked, text="**Nightly** backup", title="Backup", format="markdown", deliver_at=later.isoformat()
    )
    listed = alice_web.get(MESSAGES).content.decode()
    assert '<p class="message-title"><strong>Backup</strong></p>' in listed
    assert "scheduled for" in listed
    detail = alice_web.get(page_of(scheduled["id"])).content.decode()
    assert "Format: Markdown" in shown(detail)
    assert "Scheduled for" in shown(detail)
    assert f'action="{cancel_url(scheduled["id"])}"' in listed and f'action="{cancel_url(scheduled["id"])}"' in detail

    response = alice_web.post(cancel_url(scheduled["id"]), {"next": MESSAGES})

    assert (response.status_code, response.url) == (303, MESSAGES)
    assert Message.objects.get(pk=scheduled["id"]).status == "cancelled"
    after = alice_web.get(MESSAGES).content.decode()
    assert "The message is cancelled: it will not be sent." in after
    assert '<span class="badge cancelled">cancelled</span>' in after
    # Nothing is left to cancel, on the list or on its page.
    assert f'action="{cancel_url(scheduled["id"])}"' not in after
    assert "never: cancelled" in shown(alice_web.get(page_of(scheduled["id"])).content.decode())
    assert alice_web.get(MESSAGES, {"status": "cancelled"}).context["messages_list"][0].pk == scheduled["id"]
    assert tg.sent(chat_id=ALICE_CHAT) == []


def test_a_sent_message_cannot_be_cancelled(tg, alice_linked, alice_web):
    sent = post(alice_linked, text="gone already")
    assert f'action="{cancel_url(sent["id"])}"' not in alice_web.get(page_of(sent["id"])).content.decode()

    # A cancel from a page loaded before it went out; a next URL elsewhere is not followed.
    response = alice_web.post(cancel_url(sent["id"]), {"next": "https://evil.example/"})

    assert (response.status_code, response.url) == (303, page_of(sent["id"]))
    page = alice_web.get(response.url).content.decode()
    assert "The message is sent already: only a message not yet sent can be cancelled." in page
    assert Message.objects.get(pk=sent["id"]).status == "sent"


def test_another_accounts_message_is_not_found(tg, alice_linked, bob_web):
    later = timezone.now() + timedelta(hours=1)
    queued = post(alice_linked, text="mine", deliver_at=later.isoformat())

    assert bob_web.get(page_of(queued["id"])).status_code == 404
    assert bob_web.post(cancel_url(queued["id"])).status_code == 404
    assert bob_web.post(cancel_url(2**63)).status_code == 404
    assert Message.objects.get(pk=queued["id"]).status == "queued"
    # A GET of the cancel address is the list, never a cancel.
    assert bob_web.get(cancel_url(queued["id"])).status_code == 303


def test_the_russian_pages_show_the_question_and_the_cancel(tg, alice_linked, alice_web):
    later = timezone.now() + timedelta(hours=1)
    asked = post(alice_linked, text="Ship?", buttons=SHIP, accept_reply=True, deliver_at=later.isoformat())

    detail = alice_web.get(page_of(asked["id"]), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    listed = alice_web.get(MESSAGES, HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    facts = shown(detail)
    assert "Вопрос" in facts and "ждёт ответа" in facts and "Запланировано на" in facts
    assert "Отменить отправку" in detail and "Отменить отправку" in listed
    response = alice_web.post(cancel_url(asked["id"]), {"next": MESSAGES}, HTTP_ACCEPT_LANGUAGE="ru")
    after = alice_web.get(response.url, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Сообщение отменено: оно не будет отправлено." in after
    assert '<span class="badge cancelled">отменено</span>' in after
