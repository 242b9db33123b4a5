"""Disconnect and Revoke ask first; the bot tells a chat it was unlinked from the cabinet or the API."""

import pytest
from django.urls import reverse
from knox.models import AuthToken

from accounts.services import issue_named_token
from conftest import ALICE_CHAT, link, text_update
from relay.models import Destination
from relaybot.bot import handle_update
from relaybot.services import TelegramUser, link_private_chat
from relaybot.texts import text

DASHBOARD = reverse("cabinet:dashboard")
DISCONNECT = reverse("cabinet:telegram-disconnect")
DISCONNECT_CONFIRM = reverse("cabinet:telegram-disconnect-confirm")
TOKENS = reverse("cabinet:tokens")
REVOKE = reverse("cabinet:token-revoke")
REVOKE_CONFIRM = reverse("cabinet:token-revoke-confirm")
LINK_API = "/api/v1/telegram/link/"


def sent_texts(tg, chat_id: int = ALICE_CHAT) -> list[str]:
    return [record["text"] for record in tg.sent(chat_id=chat_id)]


# -- a confirm step that needs no JavaScript ---------------------------------------------


def test_disconnect_on_the_dashboard_only_opens_a_confirm_page(alice, alice_web):
    link(alice, ALICE_CHAT)
    html = alice_web.get(DASHBOARD).content.decode()
    assert f'<form method="get" action="{DISCONNECT_CONFIRM}">' in html
    assert f'action="{DISCONNECT}"' not in html

    page = alice_web.get(DISCONNECT_CONFIRM)
    body = page.content.decode()
    assert page.status_code == 200
    assert f'<form method="post" action="{DISCONNECT}">' in body
    assert "csrfmiddlewaretoken" in body
    assert f'href="{DASHBOARD}#telegram"' in body
    # Looking at the question changes nothing.
    assert Destination.objects.filter(user=alice).exists()


def test_the_disconnect_confirm_page_in_russian(alice, alice_web):
    link(alice, ALICE_CHAT)
    body = alice_web.get(DISCONNECT_CONFIRM, headers={"accept-language": "ru"}).content.decode()
    assert "Отключить Telegram?" in body


def test_the_disconnect_confirm_page_without_a_chat_goes_back_to_the_dashboard(alice, alice_web):
    response = alice_web.get(DISCONNECT_CONFIRM)
    assert (response.status_code, response.url) == (302, DASHBOARD)


def test_revoke_in_the_list_only_opens_a_confirm_page_naming_the_token(alice, alice_web):
    token, _ = issue_named_token(user=alice, name="backup script")
    html = alice_web.get(TOKENS).content.decode()
    assert f'<form method="get" action="{REVOKE_CONFIRM}">' in html
    assert f'action="{REVOKE}"' not in html

    page = alice_web.get(REVOKE_CONFIRM, {"token": token.digest})
    body = page.content.decode()
    assert page.status_code == 200
    assert "backup script" in body
    assert f'<form method="post" action="{REVOKE}">' in body
    assert f'<input type="hidden" name="token" value="{token.digest}">' in body
    assert AuthToken.objects.filter(pk=token.pk).exists()

    response = alice_web.post(REVOKE, {"token": token.digest})
    assert response.status_code in (302, 303)
    assert not AuthToken.objects.filter(pk=token.pk).exists()


def test_no_confirm_page_for_another_accounts_token(alice, bob_web):
    token, _ = issue_named_token(user=alice, name="alice's secret script")
    response = bob_web.get(REVOKE_CONFIRM, {"token": token.digest})
    assert (response.status_code, response.url) == (302, TOKENS)
    assert "alice's secret script" not in bob_web.get(TOKENS).content.decode()
    assert AuthToken.objects.filter(pk=token.pk).exists()


# -- the bot tells the chat ----------------------------------------------------------------


def test_disconnecting_in_the_cabinet_tells_the_chat_once_committed(
    tg, alice, alice_web, django_capture_on_commit_callbacks
):
    link(alice, ALICE_CHAT)
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_web.post(DISCONNECT)
        assert response.status_code in (302, 303)
        assert not Destination.objects.filter(user=alice).exists()
        # Nothing is said before the unlink commits.
        assert tg.sent() == []
    for callback in callbacks:
        callback()
    assert sent_texts(tg) == [text("ru", "unlinked", username="alice")]


def test_the_bot_tells_the_chat_in_its_own_language(tg, alice, alice_web, django_capture_on_commit_callbacks):
    link_private_chat(user=alice, who=TelegramUser(chat_id=ALICE_CHAT, first_name="Alice", language_code="en-GB"))
    with django_capture_on_commit_callbacks(execute=True):
        alice_web.post(DISCONNECT)
    assert sent_texts(tg) == ["This chat was unlinked from alice in the cabinet or through the API. "
                              "Messages will not arrive here any more."]  # fmt: skip


def test_unlinking_through_the_api_tells_the_chat(tg, alice, alice_api, django_capture_on_commit_callbacks):
    link(alice, ALICE_CHAT)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(LINK_API).status_code == 204
    assert sent_texts(tg) == [text("ru", "unlinked", username="alice")]


def test_stop_in_the_bot_gets_only_its_own_answer(tg, alice, django_capture_on_commit_callbacks):
    link(alice, ALICE_CHAT)
    with django_capture_on_commit_callbacks(execute=True):
        handle_update(text_update(ALICE_CHAT, "/stop"))
    assert sent_texts(tg) == [text("ru", "stopped", username="alice")]


@pytest.mark.parametrize("failure", ["blocked", "no answer"])
def test_a_notice_that_cannot_be_sent_leaves_the_unlink_done(
    tg, settings, alice, alice_web, alice_api, django_capture_on_commit_callbacks, failure
):
    link(alice, ALICE_CHAT)
    if failure == "blocked":
        tg.block(ALICE_CHAT)
    else:
        settings.TELEGRAM_API_URL = "http://127.0.0.1:9"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_web.post(DISCONNECT, follow=True)
    assert response.status_code == 200
    assert "Telegram is disconnected" in response.content.decode()
    assert not Destination.objects.filter(user=alice).exists()
    assert tg.sent() == []

    link(alice, ALICE_CHAT)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(LINK_API).status_code == 204
    assert not Destination.objects.filter(user=alice).exists()
