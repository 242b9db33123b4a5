"""The dashboard: link status, connecting Telegram three ways, disconnecting."""

import re

import pytest
from django.urls import reverse

from conftest import ALICE_CHAT, BOB_CHAT, link, poll_bot
from relay.models import Destination
from relaybot.services import TelegramUser, issue_verification_code

DASHBOARD = reverse("cabinet:dashboard")
CONNECT = reverse("cabinet:telegram-connect")
VERIFY = reverse("cabinet:telegram-verify")
DISCONNECT = reverse("cabinet:telegram-disconnect")


def test_an_unlinked_account_is_offered_to_connect(alice_web, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = alice_web.get(DASHBOARD)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not connected" in html
    assert "Connect Telegram" in html
    assert "Disconnect" not in html
    # Not in demo mode: no simulated chat, no banner.
    assert "Simulated Telegram" not in html
    assert "Demo mode" not in html


def test_a_linked_account_shows_its_chat(alice, alice_web, django_assert_max_num_queries):
    chat = link(alice, ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).update(username="alice_tg")
    with django_assert_max_num_queries(4):
        response = alice_web.get(DASHBOARD)
    html = response.content.decode()
    assert "Connected to <strong>@alice_tg</strong>" in html
    assert "Disconnect" in html


def test_the_dashboard_never_shows_another_accounts_chat(alice, bob, alice_web, bob_web):
    chat = link(bob, BOB_CHAT)
    Destination.objects.filter(pk=chat.pk).update(username="bob_tg")
    assert "bob_tg" not in alice_web.get(DASHBOARD).content.decode()
    assert "Not connected" in alice_web.get(DASHBOARD).content.decode()
    assert "@bob_tg" in bob_web.get(DASHBOARD).content.decode()


def test_connect_shows_a_fresh_link_code_every_way(tg, alice, alice_web, django_assert_max_num_queries):
    # Two of them are the savepoint around storing the code, two more the session that keeps it.
    with django_assert_max_num_queries(10):
        response = alice_web.post(CONNECT)
    assert (response.status_code, response.url) == (303, DASHBOARD + "#connect")
    response = alice_web.get(DASHBOARD)
    connect = response.context["connect"]
    code = connect["code"]
    assert connect["deep_link"] == f"https://t.me/relay_test_bot?start={code}"
    html = response.content.decode()
    assert f'href="https://t.me/relay_test_bot?start={code}"' in html
    assert f'value="{code}"' in html
    assert re.search(r'<svg viewBox="[\d. ]+" class="segno"><title>QR code of the link to the bot</title>', html)
    assert "This code works once, until" in html
    assert 'action="/cabinet/telegram/verify/"' in html

    # The code links the chat it is sent from, as the deep link's /start does.
    tg.user_says(ALICE_CHAT, f"/start {code}", first_name="Alice")
    poll_bot()
    assert Destination.objects.get(user=alice).chat_id == ALICE_CHAT
    assert "Connected to <strong>Alice</strong>" in alice_web.get(DASHBOARD).content.decode()


def test_connect_takes_a_post(alice_web):
    assert alice_web.put(CONNECT).status_code == 405


def test_a_verification_code_from_the_bot_links_its_chat(alice, alice_web):
    _, code = issue_verification_code(who=TelegramUser(chat_id=ALICE_CHAT, first_name="Alice", username="alice_tg"))
    response = alice_web.post(VERIFY, {"code": code.lower()})
    assert (response.status_code, response.url) == (303, DASHBOARD)
    assert Destination.objects.get(user=alice).chat_id == ALICE_CHAT
    page = alice_web.get(DASHBOARD).content.decode()
    assert "Telegram is connected: @alice_tg." in page


def test_a_wrong_verification_code_is_a_field_error(alice, alice_web):
    response = alice_web.post(VERIFY, {"code": "ABCDEFGH"})
    assert (response.status_code, response.url) == (303, DASHBOARD + "#telegram")
    response = alice_web.get(response.url)
    assert response.context["verify_form"]["code"].value() == "ABCDEFGH"
    assert response.context["verify_form"].errors["code"] == [
        "This code is wrong, used or expired. Write to the bot for a new one."
    ]
    assert not Destination.objects.filter(user=alice).exists()


def test_verification_guesses_are_limited(alice, alice_web, settings):
    settings.CABINET_VERIFY_FAILURES = 2
    _, code = issue_verification_code(who=TelegramUser(chat_id=ALICE_CHAT, first_name="Alice"))
    for _ in range(2):
        alice_web.post(VERIFY, {"code": "ABCDEFGH"})
        assert "This code is wrong" in alice_web.get(DASHBOARD).content.decode()
    alice_web.post(VERIFY, {"code": code})
    assert "Too many wrong codes." in alice_web.get(DASHBOARD).content.decode()
    assert not Destination.objects.filter(user=alice).exists()


def test_disconnect_unlinks_only_the_own_chat(alice, bob, alice_web):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    response = alice_web.post(DISCONNECT)
    assert (response.status_code, response.url) == (303, DASHBOARD)
    assert not Destination.objects.filter(user=alice).exists()
    assert Destination.objects.filter(user=bob).exists()
    assert "Telegram is disconnected." in alice_web.get(DASHBOARD).content.decode()


@pytest.mark.django_db
def test_the_dashboard_lists_the_latest_messages_only(alice, alice_web, tg):
    from relay.services import enqueue_message

    link(alice, ALICE_CHAT)
    for number in range(7):
        enqueue_message(user=alice, text=f"note {number}")
    html = alice_web.get(DASHBOARD).content.decode()
    assert [f"note {n}" in html for n in range(7)] == [False, False, True, True, True, True, True]
    assert 'href="/cabinet/messages/"' in html
