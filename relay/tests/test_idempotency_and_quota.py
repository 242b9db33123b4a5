"""Idempotency-Key on message creation, and the per-account quota."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import ALICE_CHAT, BOB_CHAT, link
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL, delivered_text, texts

pytestmark = pytest.mark.django_db(transaction=True)

COMPAT_URL = "/message/sent"


def same_message(first, again) -> bool:
    """The replay names the first message; its status is whatever delivery has made of it since."""
    keys = ("id", "created_at", "text", "content", "date")
    return {k: v for k, v in first.json().items() if k in keys} == {k: v for k, v in again.json().items() if k in keys}


def post(api, text: str, key: str | None = None, url: str = MESSAGES_URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    field = "content" if url == COMPAT_URL else "text"
    return api.post(url, {field: text}, format="json", **headers)


def test_a_retried_request_returns_the_first_message_and_sends_nothing_new(tg, alice_linked):
    first = post(alice_linked, "once", key="order-42")
    again = post(alice_linked, "once", key="order-42")

    assert first.status_code == again.status_code == 202
    assert same_message(first, again)
    assert Message.objects.count() == 1
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "once")]


def test_the_first_message_wins_even_if_the_retry_differs(tg, alice_linked):
    first = post(alice_linked, "original", key="k1")
    again = post(alice_linked, "changed", key="k1")

    assert again.json()["text"] == "original" == first.json()["text"]
    assert Message.objects.count() == 1


def test_different_keys_and_no_key_create_new_messages(tg, alice_linked):
    post(alice_linked, "a", key="k1")
    post(alice_linked, "b", key="k2")
    post(alice_linked, "c")
    post(alice_linked, "d")
    assert Message.objects.count() == 4
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 4


def test_keys_are_per_account(tg, alice_linked, bob, bob_api):
    link(bob, BOB_CHAT)
    alice_first = post(alice_linked, "alice's", key="shared-key")
    bob_first = post(bob_api, "bob's", key="shared-key")

    assert bob_first.json()["id"] != alice_first.json()["id"]
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "bob's")]


def test_a_key_older_than_a_day_may_be_used_again(tg, alice_linked):
    first = post(alice_linked, "yesterday", key="daily")
    Message.objects.filter(pk=first.json()["id"]).update(created_at=timezone.now() - timedelta(hours=25))

    today = post(alice_linked, "today", key="daily")

    assert today.status_code == 202
    assert today.json()["id"] != first.json()["id"]
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 2


def test_the_assignment_route_honours_the_key_too(tg, alice_linked):
    first = post(alice_linked, "compat", key="c-1", url=COMPAT_URL)
    again = post(alice_linked, "compat", key="c-1", url=COMPAT_URL)
    assert same_message(first, again)
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


@pytest.mark.parametrize("key", ["x" * 256, "tab\there", "ключ"])
def test_a_malformed_key_is_refused_naming_the_header(tg, alice_linked, key):
    response = post(alice_linked, "text", key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert Message.objects.count() == 0


def test_the_quota_refuses_the_message_over_the_limit_with_retry_after(tg, settings, alice_linked):
    settings.MESSAGES_PER_MINUTE = 3
    for number in range(3):
        assert post(alice_linked, f"m{number}").status_code == 202

    refused = post(alice_linked, "one too many")

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "detail" in refused.json()
    assert Message.objects.count() == 3
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 3


def test_the_quota_frees_up_as_messages_age_out(tg, settings, alice_linked):
    settings.MESSAGES_PER_MINUTE = 2
    post(alice_linked, "old")
    post(alice_linked, "newer")
    Message.objects.filter(text="old").update(created_at=timezone.now() - timedelta(seconds=61))

    assert post(alice_linked, "fits again").status_code == 202
    assert post(alice_linked, "over again").status_code == 429


def test_the_quota_is_per_account(tg, settings, alice_linked, bob, bob_api):
    settings.MESSAGES_PER_MINUTE = 1
    link(bob, BOB_CHAT)
    assert post(alice_linked, "alice").status_code == 202
    assert post(alice_linked, "alice again").status_code == 429
    assert post(bob_api, "bob").status_code == 202


def test_a_replayed_key_is_answered_even_over_the_quota(tg, settings, alice_linked):
    settings.MESSAGES_PER_MINUTE = 1
    first = post(alice_linked, "once", key="retry-me")
    again = post(alice_linked, "once", key="retry-me")
    assert again.status_code == 202
    assert same_message(first, again)


def test_the_quota_applies_to_the_assignment_route(tg, settings, alice_linked):
    settings.MESSAGES_PER_MINUTE = 1
    assert post(alice_linked, "one", url=COMPAT_URL).status_code == 202
    assert post(alice_linked, "two", url=COMPAT_URL).status_code == 429
