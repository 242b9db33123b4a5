"""Sending from the page, the paginated history, and the status rows the page polls."""

import re
from html import unescape

import pytest
from django.urls import reverse

from conftest import ALICE_CHAT, BOB_CHAT, link
from relay.models import Message

DASHBOARD = reverse("cabinet:dashboard")
SEND = reverse("cabinet:message-send")
MESSAGES = reverse("cabinet:messages")
STATUS = reverse("cabinet:message-status")
HEADER = "Alice, я получил от тебя сообщение:\n"


def test_a_message_sent_from_the_page_is_delivered_with_the_russian_header(
    tg, alice, alice_web, django_capture_on_commit_callbacks
):
    link(alice, ALICE_CHAT)
    text = "Hello <b>world</b> & friends\nsecond line"
    # The interface is English, the relayed message keeps its required Russian wording.
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_web.post(SEND, {"text": text}, HTTP_ACCEPT_LANGUAGE="en")
    assert (response.status_code, response.url) == (303, DASHBOARD)
    assert [sent["text"] for sent in tg.sent(ALICE_CHAT)] == [HEADER + text]
    message = Message.objects.get(user=alice)
    assert (message.text, message.status) == (text, Message.Status.SENT)
    page = alice_web.get(DASHBOARD).content.decode()
    assert "The message is on its way." in page
    assert '<span class="badge sent">sent</span>' in page
    assert "Hello &lt;b&gt;world&lt;/b&gt; &amp; friends" in page


def test_sending_without_a_chat_says_to_connect_first(alice, alice_web):
    response = alice_web.post(SEND, {"text": "hello"})
    assert (response.status_code, response.url) == (303, DASHBOARD)
    form = alice_web.get(DASHBOARD).context["send_form"]
    assert form.errors["text"] == ["Connect Telegram first: there is no chat to deliver to."]
    # What was typed is still there.
    assert form["text"].value() == "hello"
    assert not Message.objects.exists()


def test_sending_to_an_unreachable_chat_gives_the_reason(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    chat.unreachable_reason = "Forbidden: bot was blocked by the user"
    chat.save()
    response = alice_web.post(SEND, {"text": "hello"}, follow=True)
    assert "bot was blocked by the user" in response.context["send_form"].errors["text"][0]


def test_an_empty_message_is_refused(alice, alice_web):
    link(alice, ALICE_CHAT)
    for text in ("", "  \n "):
        response = alice_web.post(SEND, {"text": text})
        assert (response.status_code, response.url) == (303, DASHBOARD)
        assert alice_web.get(DASHBOARD).context["send_form"].errors["text"]
    assert not Message.objects.exists()


def test_the_per_minute_quota_applies_to_the_page_too(tg, alice, alice_web, settings):
    settings.MESSAGES_PER_MINUTE = 1
    link(alice, ALICE_CHAT)
    assert alice_web.post(SEND, {"text": "one"}).status_code == 303
    response = alice_web.post(SEND, {"text": "two"}, follow=True)
    assert "too many messages this minute" in response.content.decode()
    assert Message.objects.count() == 1


def test_the_history_is_paged_newest_first_below_an_id(alice, alice_web, django_assert_max_num_queries):
    chat = link(alice, ALICE_CHAT)
    rows = Message.objects.bulk_create(Message(user=alice, destination=chat, text=f"note {n:02}") for n in range(25))
    with django_assert_max_num_queries(4) as queries:
        first = alice_web.get(MESSAGES)
    html = first.content.decode()
    assert first.status_code == 200
    assert "note 24" in html and "note 05" in html and "note 04" not in html
    # No count of the history, no page numbers: a link to the older ones, below the last shown.
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)
    assert "Page 1" not in html and "Newest" not in html
    (older,) = re.findall(r'<a href="([^"]+)" rel="next">Older →</a>', html)
    assert unescape(older) == f"?before={rows[5].pk}"
    second = alice_web.get(MESSAGES + unescape(older)).content.decode()
    assert "note 04" in second and "note 00" in second and "note 05" not in second
    assert 'rel="next"' not in second
    (newest,) = re.findall(r'<a href="([^"]*)" rel="first">← Newest</a>', second)
    assert "note 24" in alice_web.get(MESSAGES + unescape(newest)).content.decode()


def test_a_message_that_arrives_between_pages_neither_repeats_nor_hides_one(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    Message.objects.bulk_create(Message(user=alice, destination=chat, text=f"note {n:02}") for n in range(25))
    first = alice_web.get(MESSAGES).content.decode()
    Message.objects.create(user=alice, destination=chat, text="note 25, just now")
    (older,) = re.findall(r'<a href="([^"]+)" rel="next">', first)

    second = alice_web.get(MESSAGES + unescape(older)).content.decode()

    shown = re.findall(r'<p class="message-text">(note \d\d)</p>', first + second)
    assert shown == [f"note {n:02}" for n in range(24, -1, -1)]


@pytest.mark.parametrize("before", ["abc", "0", "-5", "1.5", str(2**63), "٣", "9" * 5000])
def test_a_page_below_no_id_is_400_with_the_way_back(alice, alice_web, before):
    link(alice, ALICE_CHAT)

    response = alice_web.get(MESSAGES, {"before": before})

    assert response.status_code == 400
    html = response.content.decode()
    assert "This page of older messages does not exist: start from the newest." in html


def test_the_history_shows_statuses_and_failure_reasons(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    Message.objects.create(user=alice, destination=chat, text="waiting")
    Message.objects.create(user=alice, destination=chat, text="done", status=Message.Status.SENT)
    Message.objects.create(
        user=alice,
        destination=chat,
        text="lost",
        status=Message.Status.FAILED,
        error="Forbidden: bot was blocked by the user",
    )
    html = alice_web.get(MESSAGES).content.decode()
    assert '<span class="badge queued">queued</span>' in html
    assert '<span class="badge sent">sent</span>' in html
    assert '<span class="badge failed">failed</span>' in html
    assert "Reason: Forbidden: bot was blocked by the user" in html
    # The page polls while a message is queued.
    assert f'data-status-url="{STATUS}"' in html
    assert 'data-status="queued"' in html


def test_the_history_never_shows_another_accounts_messages(alice, bob, alice_web):
    link(alice, ALICE_CHAT)
    chat = link(bob, BOB_CHAT)
    Message.objects.create(user=bob, destination=chat, text="bob's secret")
    assert "bob&#x27;s secret" not in alice_web.get(MESSAGES).content.decode()
    assert "bob&#x27;s secret" not in alice_web.get(DASHBOARD).content.decode()
    assert "No messages yet." in alice_web.get(MESSAGES).content.decode()


def test_the_status_rows_hold_only_own_messages(alice, bob, alice_web, django_assert_max_num_queries):
    mine = Message.objects.create(
        user=alice, destination=link(alice, ALICE_CHAT), text="mine", status=Message.Status.SENT
    )
    theirs = Message.objects.create(user=bob, destination=link(bob, BOB_CHAT), text="theirs")
    with django_assert_max_num_queries(3):
        response = alice_web.get(STATUS, {"id": [mine.pk, theirs.pk, "x"]})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="message-{mine.pk}"' in html and 'data-status="sent"' in html
    assert "theirs" not in html and f"message-{theirs.pk}" not in html
    assert alice_web.get(STATUS).content.decode().strip() == ""
