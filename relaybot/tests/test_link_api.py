"""POST, GET and DELETE /api/v1/telegram/link/: link codes and the link's state."""

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, link, text_update
from relay.models import Destination
from relaybot.bot import handle_update
from relaybot.models import LinkCode

pytestmark = pytest.mark.django_db

URL = "/api/v1/telegram/link/"


def new_code(client: APIClient) -> dict:
    response = client.post(URL)
    assert response.status_code == 201
    return response.json()


def test_link_code_comes_with_a_deep_link_and_expiry(tg, alice_api):
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=moment):
        body = new_code(alice_api)

    assert set(body) == {"code", "deep_link", "expires_at"}
    assert body["deep_link"] == f"https://t.me/relay_test_bot?start={body['code']}"
    # Fifteen minutes is the default lifetime.
    assert datetime.fromisoformat(body["expires_at"]) == moment + timedelta(minutes=15)


def test_link_code_is_url_safe_long_and_random(tg, alice_api):
    codes = [new_code(alice_api)["code"] for _ in range(5)]

    for code in codes:
        # base64url of at least 16 random bytes is at least 22 characters.
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", code), code
    assert len(set(codes)) == len(codes)


def test_deep_link_uses_a_configured_bot_username(tg, alice_api, settings):
    settings.TELEGRAM_BOT_USERNAME = "configured_bot"

    body = new_code(alice_api)

    assert body["deep_link"] == f"https://t.me/configured_bot?start={body['code']}"
    assert tg.request_counts()["counts"].get("getMe", 0) == 0


def test_bot_username_is_asked_of_telegram_once(tg, alice_api):
    for _ in range(3):
        new_code(alice_api)

    assert tg.request_counts()["counts"]["getMe"] == 1


def test_code_is_still_issued_when_telegram_cannot_name_the_bot(tg, alice_api):
    tg.add_fault(kind="502", method="getMe")

    body = new_code(alice_api)

    assert body["deep_link"] is None
    handle_update(text_update(ALICE_CHAT, f"/start {body['code']}"))
    assert alice_api.get(URL).json()["linked"] is True


def test_codes_are_stored_hashed(tg, alice_api):
    code = new_code(alice_api)["code"]

    row = LinkCode.objects.get()
    stored = [str(getattr(row, field.attname)) for field in LinkCode._meta.concrete_fields]
    assert not any(code in value for value in stored)
    assert row.user.username == "alice"


def test_a_new_code_replaces_the_previous_one(tg, alice, alice_api):
    first = new_code(alice_api)["code"]
    second = new_code(alice_api)["code"]

    handle_update(text_update(ALICE_CHAT, f"/start {first}", language_code="en"))
    assert not Destination.objects.exists()
    assert "did not work" in tg.sent(chat_id=ALICE_CHAT)[-1]["text"]

    handle_update(text_update(ALICE_CHAT, f"/start {second}", language_code="en"))
    assert Destination.objects.get().user == alice


def test_a_new_code_of_one_user_leaves_anothers_code_working(tg, alice, alice_api, bob_api):
    alices = new_code(alice_api)["code"]
    new_code(bob_api)

    handle_update(text_update(ALICE_CHAT, f"/start {alices}"))

    assert Destination.objects.get(chat_id=ALICE_CHAT).user == alice


def test_status_before_and_after_linking(tg, alice, alice_api):
    assert alice_api.get(URL).json() == {"linked": False, "chat": None}

    code = new_code(alice_api)["code"]
    handle_update(text_update(ALICE_CHAT, f"/start {code}", first_name="Alisa", username="alisa_tg"))

    body = alice_api.get(URL).json()
    assert body["linked"] is True
    assert body["chat"]["chat_id"] == ALICE_CHAT
    assert body["chat"]["username"] == "alisa_tg"
    assert body["chat"]["first_name"] == "Alisa"
    assert body["chat"]["unreachable_reason"] == ""
    assert body["chat"]["linked_at"]


def test_unlink(tg, alice, alice_api):
    link(alice, ALICE_CHAT)

    assert alice_api.delete(URL).status_code == 204

    assert alice_api.get(URL).json() == {"linked": False, "chat": None}
    assert not Destination.objects.exists()


def test_unlink_without_a_link_is_404(alice_api):
    response = alice_api.delete(URL)

    assert response.status_code == 404
    assert "detail" in response.json()


def test_one_user_cannot_see_or_remove_anothers_link(alice, alice_api, bob_api):
    link(alice, ALICE_CHAT)

    assert bob_api.get(URL).json() == {"linked": False, "chat": None}
    assert bob_api.delete(URL).status_code == 404
    assert alice_api.get(URL).json()["chat"]["chat_id"] == ALICE_CHAT


def test_each_user_sees_their_own_link(alice, bob, alice_api, bob_api):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)

    assert alice_api.get(URL).json()["chat"]["chat_id"] == ALICE_CHAT
    assert bob_api.get(URL).json()["chat"]["chat_id"] == BOB_CHAT


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_link_endpoints_need_authentication(method):
    assert getattr(APIClient(), method)(URL).status_code == 401


def test_expired_link_code_does_not_link(tg, alice_api):
    code = new_code(alice_api)["code"]
    LinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    handle_update(text_update(ALICE_CHAT, f"/start {code}", language_code="en"))

    assert not Destination.objects.exists()
    assert "expired" in tg.sent(chat_id=ALICE_CHAT)[0]["text"]


def test_link_code_works_until_it_expires(tg, alice, alice_api, settings):
    code = new_code(alice_api)["code"]
    almost = timezone.now() + settings.LINK_CODE_TTL - timedelta(seconds=5)

    with mock.patch("django.utils.timezone.now", return_value=almost):
        handle_update(text_update(ALICE_CHAT, f"/start {code}"))

    assert Destination.objects.get().user == alice


def test_link_code_fails_once_its_time_has_passed(tg, alice_api, settings):
    code = new_code(alice_api)["code"]
    later = timezone.now() + settings.LINK_CODE_TTL + timedelta(seconds=5)

    with mock.patch("django.utils.timezone.now", return_value=later):
        handle_update(text_update(ALICE_CHAT, f"/start {code}"))

    assert not Destination.objects.exists()
