"""GET /api/v1/messages/ and /api/v1/messages/{id}/: the account's own history."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, link, make_due, run_sweep
from relay.models import Destination, Message
from relay.tests.helpers import MESSAGES_URL, get_message, message_url, post_text

ITEM_FIELDS = {"id", "text", "status", "created_at", "sent_at", "error"}


def add_messages(user, count: int) -> list[Message]:
    """Rows straight in the table, one minute apart, oldest first."""
    chat = Destination.objects.filter(user=user).first()
    start = timezone.now() - timedelta(days=1)
    return Message.objects.bulk_create(
        Message(user=user, destination=chat, text=f"message {index}", created_at=start + timedelta(minutes=index))
        for index in range(count)
    )


def test_empty_list(alice_api):
    response = alice_api.get(MESSAGES_URL)

    assert response.status_code == 200
    assert response.json() == {"next": None, "results": []}


def test_list_is_newest_first_with_date_text_status_sent_at_and_error(alice, alice_api):
    link(alice, ALICE_CHAT)
    ids = [post_text(alice_api, text)["id"] for text in ["one", "two", "three"]]

    body = alice_api.get(MESSAGES_URL).json()

    assert body["next"] is None
    assert [item["id"] for item in body["results"]] == ids[::-1]
    assert [item["text"] for item in body["results"]] == ["three", "two", "one"]
    for item in body["results"]:
        assert set(item) >= ITEM_FIELDS
        assert item["status"] == "queued"
        assert item["sent_at"] is None
        assert item["error"] == ""
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
    dates = [datetime.fromisoformat(item["created_at"]) for item in body["results"]]
    assert dates == sorted(dates, reverse=True)


def test_list_orders_by_acceptance_that_is_by_id(alice, alice_api):
    # An account's messages take their ids in the order they are accepted (the quota
    # serializes them); a time changed by hand afterwards does not move a message.
    link(alice, ALICE_CHAT)
    older, newer = add_messages(alice, 2)
    Message.objects.filter(pk=older.pk).update(created_at=newer.created_at + timedelta(minutes=5))

    results = alice_api.get(MESSAGES_URL).json()["results"]

    assert [item["id"] for item in results] == [newer.pk, older.pk]


def test_list_is_paginated(alice, alice_api):
    link(alice, ALICE_CHAT)
    rows = add_messages(alice, 57)
    newest_first = [row.pk for row in reversed(rows)]

    first = alice_api.get(MESSAGES_URL).json()

    assert set(first) == {"next", "results"}
    assert len(first["results"]) == 50
    assert first["next"] is not None
    second = alice_api.get(first["next"]).json()
    assert second["next"] is None
    assert [item["id"] for item in first["results"] + second["results"]] == newest_first
    assert second["results"][-1]["text"] == "message 0"


def test_page_numbers_are_refused_naming_the_way_instead(alice, alice_api):
    link(alice, ALICE_CHAT)
    add_messages(alice, 3)

    response = alice_api.get(MESSAGES_URL, {"page": 2})

    assert response.status_code == 400
    assert response.json() == {"page": ["Page numbers are gone: follow `next` instead."]}


def test_detail_shows_one_message(alice, alice_api):
    link(alice, ALICE_CHAT)
    body = post_text(alice_api, "Hello")

    message = get_message(alice_api, body["id"])

    assert set(message) >= ITEM_FIELDS
    assert message["id"] == body["id"]
    assert message["text"] == "Hello"
    assert message["status"] == "queued"
    assert message["created_at"] == body["created_at"]


def test_detail_of_an_unknown_id_is_404(alice, alice_api):
    link(alice, ALICE_CHAT)
    body = post_text(alice_api, "Hello")

    assert alice_api.get(message_url(body["id"] + 1000)).status_code == 404


def test_detail_of_another_accounts_message_is_404(alice, alice_api, bob, bob_api):
    link(alice, ALICE_CHAT)
    body = post_text(alice_api, "for alice only")

    response = bob_api.get(message_url(body["id"]))

    assert response.status_code == 404
    assert "for alice only" not in response.content.decode()


def test_list_and_detail_need_authentication(alice, alice_api):
    link(alice, ALICE_CHAT)
    body = post_text(alice_api, "Hello")
    anonymous = APIClient()

    assert anonymous.get(MESSAGES_URL).status_code == 401
    assert anonymous.get(message_url(body["id"])).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_status_moves_from_queued_to_sent_with_sent_at(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    tg.add_fault(kind="500")
    body = post_text(alice_api, "Hello")
    assert body["status"] == "queued"
    queued = get_message(alice_api, body["id"])
    assert queued["status"] == "queued"
    assert queued["sent_at"] is None
    assert queued["error"] != ""

    make_due()
    before = timezone.now()
    run_sweep()
    after = timezone.now()

    sent = get_message(alice_api, body["id"])
    assert sent["status"] == "sent"
    assert sent["error"] == ""
    assert before <= datetime.fromisoformat(sent["sent_at"]) <= after
    assert alice_api.get(MESSAGES_URL).json()["results"][0]["status"] == "sent"


@pytest.mark.django_db(transaction=True)
def test_failed_message_is_listed_with_its_reason(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    tg.block(ALICE_CHAT)
    body = post_text(alice_api, "Hello")

    item = alice_api.get(MESSAGES_URL).json()["results"][0]

    assert item["id"] == body["id"]
    assert item["status"] == "failed"
    assert item["sent_at"] is None
    assert item["error"] == "Telegram: Forbidden: bot was blocked by the user"
