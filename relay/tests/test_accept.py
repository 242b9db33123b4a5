"""POST /api/v1/messages/: what is accepted, what is refused, and the answer's shape."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, basic_auth, link
from relay.models import Destination, Message
from relay.tests.helpers import MESSAGES_URL, get_message, post_text


def test_accepted_message_answers_202_with_id_text_created_at_and_queued(alice_linked, alice):
    response = alice_linked.post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "destination", "text", "created_at", "status"}
    assert body["text"] == "Hello"
    assert body["status"] == "queued"
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    message = Message.objects.get(pk=body["id"])
    assert message.user == alice
    assert message.text == "Hello"
    assert message.destination.chat_id == ALICE_CHAT


def test_text_is_stored_exactly_as_sent(alice_linked):
    text = "  two leading spaces, a tab\tand a trailing newline\n"

    body = post_text(alice_linked, text)

    assert body["text"] == text
    assert Message.objects.get(pk=body["id"]).text == text


def test_account_without_a_linked_chat_gets_409_with_a_clear_body(alice_api):
    response = alice_api.post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "chat_not_linked"
    assert "No Telegram chat is linked" in body["detail"]
    assert "/api/v1/telegram/link/" in body["detail"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("text", ["", " ", "   \n\t  \r\n"], ids=["empty", "space", "whitespace"])
def test_empty_or_whitespace_only_text_is_400_naming_text(alice_linked, text):
    response = alice_linked.post(MESSAGES_URL, {"text": text}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["text"]
    assert not Message.objects.exists()


def test_missing_text_is_400_naming_text(alice_linked):
    response = alice_linked.post(MESSAGES_URL, {"content": "wrong field name"}, format="json")

    assert response.status_code == 400
    assert "text" in response.json()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "value",
    [42, 3.5, True, ["a list"], {"an": "object"}, None],
    ids=["integer", "float", "boolean", "list", "object", "null"],
)
def test_text_of_another_json_type_is_400_naming_text(alice_linked, value):
    response = alice_linked.post(MESSAGES_URL, {"text": value}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["text"]
    assert not Message.objects.exists()


def test_body_that_is_not_json_is_400(alice_linked):
    response = alice_linked.post(MESSAGES_URL, '{"text": "unterminated', content_type="application/json")

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_text_of_the_maximum_length_is_accepted(alice_linked):
    text = "x" * settings.MESSAGE_MAX_LENGTH
    assert len(text) == 32768

    body = post_text(alice_linked, text)

    assert Message.objects.get(pk=body["id"]).text == text


def test_text_one_character_over_the_maximum_is_400_naming_text(alice_linked):
    response = alice_linked.post(MESSAGES_URL, {"text": "x" * 32769}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["text"]
    assert not Message.objects.exists()


def test_maximum_length_counts_characters_not_bytes(alice_linked):
    # 32,768 Cyrillic letters are 65,536 bytes of UTF-8: still accepted.
    post_text(alice_linked, "я" * 32768)


def test_form_encoded_body_is_accepted(alice_linked):
    response = alice_linked.post(
        MESSAGES_URL,
        urlencode({"text": "Привет & <b>form</b>"}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 202
    assert response.json()["text"] == "Привет & <b>form</b>"
    assert response.json()["status"] == "queued"


def test_form_encoded_empty_text_is_400(alice_linked):
    response = alice_linked.post(
        MESSAGES_URL, urlencode({"text": "  "}), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["text"]


def test_unauthenticated_post_is_401(alice):
    link(alice, ALICE_CHAT)

    response = APIClient().post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 401
    assert not Message.objects.exists()


def test_unknown_bearer_token_is_401(alice):
    link(alice, ALICE_CHAT)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + "0" * 64)

    response = client.post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 401
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_message_is_accepted_while_telegram_fails(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    tg.add_fault(kind="500", times=-1)

    response = alice_api.post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert get_message(alice_api, response.json()["id"])["status"] == "queued"
    assert tg.sent() == []


# The token (or, for Basic, the account by its name) with its account, scope
# and default destination; then one transaction for the quota's count and the
# INSERT (SQLite's BEGIN IMMEDIATE takes the write lock; on PostgreSQL a BEGIN,
# then the account's advisory lock), and its COMMIT. Every further query on
# this path costs throughput (docs/benchmarks.md).
ACCEPT_QUERIES = {"sqlite": 5, "postgresql": 6}


def book_a_turn_later() -> None:
    """The chat waits for a turn an hour away: accepting then dispatches nothing, so no delivery runs in the count."""
    Destination.objects.update(next_turn_at=timezone.now() + timedelta(hours=1))


# Transactional, as in production: inside a test's transaction the
# accepting transaction would be a savepoint, two statements more.
@pytest.mark.django_db(transaction=True)
def test_accepting_a_message_with_a_bearer_token_takes_its_few_queries(alice_linked, django_assert_num_queries):
    # The first use of a token also notes when it was used (once a minute).
    assert alice_linked.post(MESSAGES_URL, {"text": "first"}, format="json").status_code == 202
    book_a_turn_later()

    with django_assert_num_queries(ACCEPT_QUERIES[connection.vendor]):
        response = alice_linked.post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 202


@pytest.mark.django_db(transaction=True)
def test_accepting_a_message_with_cached_basic_auth_takes_its_few_queries(alice, django_assert_num_queries):
    link(alice, ALICE_CHAT)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=basic_auth("alice"))
    assert api.post(MESSAGES_URL, {"text": "first, verifies the password"}, format="json").status_code == 202
    book_a_turn_later()

    with django_assert_num_queries(ACCEPT_QUERIES[connection.vendor]):
        response = api.post(MESSAGES_URL, {"text": "Hello"}, format="json")

    assert response.status_code == 202
