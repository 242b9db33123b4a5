"""Line breaks are stored as "\\n" whichever way they came: a browser's "\\r\\n", a lone "\\r"."""

import pytest
from django.test import Client

from conftest import ALICE_CHAT, link
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL, delivered_text, texts

pytestmark = pytest.mark.django_db(transaction=True)

SENT = "first line\r\nsecond line\rthird line\n\r\nafter a blank line\r"
STORED = "first line\nsecond line\nthird line\n\nafter a blank line\n"


def test_the_api_stores_and_sends_line_breaks_as_newlines(tg, alice_linked):
    response = alice_linked.post(MESSAGES_URL, {"text": SENT}, format="json")

    assert response.status_code == 202
    assert response.json()["text"] == STORED
    assert Message.objects.get(pk=response.json()["id"]).text == STORED
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", STORED)]


def test_the_original_route_stores_line_breaks_as_newlines(tg, alice_linked):
    response = alice_linked.post("/message/sent", {"content": SENT}, format="json")

    assert response.status_code == 202
    assert response.json()["content"] == STORED
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", STORED)]


def test_the_cabinet_form_stores_the_browsers_line_breaks_as_newlines(tg, alice):
    link(alice, ALICE_CHAT)
    browser = Client()
    browser.force_login(alice)

    # What a browser sends for a textarea: every line break as CR LF.
    response = browser.post("/cabinet/messages/send/", {"text": "typed\r\nin a form\r\n"})

    assert response.status_code in (302, 303)
    assert list(Message.objects.values_list("text", flat=True)) == ["typed\nin a form\n"]
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "typed\nin a form\n")]
