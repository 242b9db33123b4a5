"""The bot's verification reply: the code, a link to the cabinet's page that takes it, and the API routes."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from conftest import ALICE_CHAT, PASSWORD, text_update, verification_code_in
from relay.models import Destination
from relaybot.bot import handle_update

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://relay.example.com"
PAGE = f"{PUBLIC_URL}/cabinet/?verify=1#verify"


def ask_for_a_code(tg, language_code: str) -> str:
    handle_update(text_update(ALICE_CHAT, "hello", language_code=language_code))
    return tg.sent(chat_id=ALICE_CHAT)[-1]["text"]


@pytest.mark.parametrize(
    ("language_code", "cabinet_words"), [("en", "enter it in your cabinet"), ("ru", "введите его в личном кабинете")]
)
def test_the_reply_links_to_the_cabinet_page_at_the_public_url(tg, settings, language_code, cabinet_words):
    settings.PUBLIC_URL = PUBLIC_URL
    reply = ask_for_a_code(tg, language_code)
    verification_code_in(reply)
    # On a line of its own, so Telegram makes the whole address a link.
    assert PAGE in reply.splitlines()
    assert cabinet_words in reply
    assert "POST /api/v1/telegram/verify/" in reply
    assert "PATCH /bot/verify" in reply


def test_the_link_opens_the_form_that_links_the_chat(tg, settings, alice):
    settings.PUBLIC_URL = PUBLIC_URL
    reply = ask_for_a_code(tg, "en")
    code = verification_code_in(reply)
    (url,) = [line for line in reply.splitlines() if line.startswith(PUBLIC_URL)]
    address = urlsplit(url)
    path = f"{address.path}?{address.query}"

    browser = Client()
    # Not logged in yet: the login page comes first, and leads back to the same page.
    response = browser.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/cabinet/login/")
    login = browser.post(response.url, {"username": "alice", "password": PASSWORD})
    assert login.status_code in (302, 303)
    assert login.url == path

    page = browser.get(login.url).content.decode()
    # The form that takes the code is open, under the fragment the link names.
    assert re.search(rf'<details class="verify" id="{address.fragment}"[^>]* open>', page)
    assert 'name="code"' in page

    browser.post("/cabinet/telegram/verify/", {"code": code})
    assert Destination.objects.get(chat_id=ALICE_CHAT).user == alice


def test_without_the_link_the_verification_form_stays_closed(alice):
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/cabinet/").content.decode()
    assert re.search(r'<details class="verify" id="verify">', page)
