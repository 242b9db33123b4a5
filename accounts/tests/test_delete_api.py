"""POST /api/v1/auth/account/delete/: the account, its chat link, tokens and messages go; nothing queued is sent."""

import threading
import time

import pytest
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, basic_auth, link, make_due, run_sweep
from relay import delivery
from relay.models import Destination, Message
from relay.tests.helpers import delivered_text, post_text, texts
from relaybot.texts import text

ACCOUNT_URL = "/api/v1/auth/account/delete/"
MESSAGES_URL = "/api/v1/messages/"


def delete_account(api: APIClient, password: str | None = PASSWORD):
    return api.post(ACCOUNT_URL, {} if password is None else {"password": password}, format="json")


def test_deleting_the_account_through_the_api(
    tg, alice, bob, alice_linked, bob_api, django_capture_on_commit_callbacks
):
    link(bob, BOB_CHAT)
    with django_capture_on_commit_callbacks(execute=True):
        response = delete_account(alice_linked)

    assert response.status_code == 204
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not AuthToken.objects.filter(user_id=alice.pk).exists()
    assert not Destination.objects.filter(chat_id=ALICE_CHAT).exists()
    assert alice_linked.get(MESSAGES_URL).status_code == 401
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [text("ru", "account_deleted", username="alice")]
    assert bob_api.get(MESSAGES_URL).status_code == 200
    assert Destination.objects.filter(chat_id=BOB_CHAT).exists()


def test_http_basic_works_too_and_no_chat_is_fine(tg, alice):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=basic_auth("alice"))
    assert delete_account(api).status_code == 204
    assert not User.objects.filter(pk=alice.pk).exists()
    assert tg.sent() == []


def test_a_wrong_or_missing_password_deletes_nothing(tg, alice, alice_linked):
    wrong = delete_account(alice_linked, "not my password")
    assert (wrong.status_code, wrong.json()) == (400, {"password": ["Wrong password."]})
    missing = delete_account(alice_linked, None)
    assert missing.status_code == 400
    assert "password" in missing.json()
    assert User.objects.filter(pk=alice.pk).exists()
    assert Destination.objects.filter(user=alice).exists()
    assert tg.sent() == []


def test_wrong_passwords_count_as_failed_logins(settings, alice, alice_api):
    settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS = 2
    for _ in range(2):
        assert delete_account(alice_api, "a guess").status_code == 400
    refused = delete_account(alice_api)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many failed logins.")
    assert User.objects.filter(pk=alice.pk).exists()


def test_without_credentials_nothing_happens(alice):
    assert delete_account(APIClient()).status_code == 401
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_operation_is_documented_with_a_summary(alice_api):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][ACCOUNT_URL]["post"]
    assert operation["summary"] == "Delete the account, with its chat link, API tokens and messages"
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][body]["required"] == ["password"]
    assert {"204", "400", "401", "429"} <= set(operation["responses"])


@pytest.mark.django_db(transaction=True)
def test_messages_queued_at_deletion_are_never_delivered(tg, alice, alice_api):
    """A send under way when the account is deleted ends; nothing still queued behind it goes out."""
    chat = link(alice, ALICE_CHAT)
    tg.add_fault(kind="500")
    post_text(alice_api, "first: its send is under way at deletion")
    post_text(alice_api, "second: queued behind it")
    post_text(alice_api, "third: queued behind it")
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 3
    make_due()
    # The next send takes a second at Telegram: the account is deleted while it is in flight.
    tg.add_fault(kind="slow", delay=1, chat_id=ALICE_CHAT)
    sends_before = tg.request_counts()["counts"].get("sendMessage", 0)
    errors = []

    def worker() -> None:
        try:
            delivery.deliver_destination(chat.pk)
        except Exception as error:  # reported below: the worker must not trip over the deletion
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 10
    while tg.request_counts()["counts"].get("sendMessage", 0) == sends_before and time.monotonic() < deadline:
        time.sleep(0.01)
    response = delete_account(alice_api)
    thread.join(timeout=30)

    assert response.status_code == 204
    assert not thread.is_alive() and errors == []
    make_due()
    run_sweep()
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        delivered_text("Alice", "first: its send is under way at deletion"),
        text("ru", "account_deleted", username="alice"),
    ]
    assert not Message.objects.exists()
