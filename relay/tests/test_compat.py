"""POST and GET /message/sent, the original assignment's routes, over the same services."""

from datetime import datetime
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, basic_auth, client_for, link
from relay.models import Message
from relay.tests.helpers import delivered_text, get_message, texts

URLS = ["/message/sent", "/message/sent/"]


def basic_client(username: str, password: str = PASSWORD) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(username, password))
    return client


def bearer_client(user) -> APIClient:
    return client_for(user)


def basic_client_for(user) -> APIClient:
    return basic_client(user.username)


CLIENTS = pytest.mark.parametrize("make_client", [bearer_client, basic_client_for], ids=["bearer", "basic"])


@pytest.mark.django_db(transaction=True)
@CLIENTS
@pytest.mark.parametrize("url", URLS, ids=["no-slash", "slash"])
def test_post_content_is_accepted_and_delivered(tg, alice, make_client, url):
    link(alice, ALICE_CHAT)
    api = make_client(alice)

    response = api.post(url, {"content": "Привет <b>&</b> 😀"}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["content"] == "Привет <b>&</b> 😀"
    assert body["status"] == "queued"
    assert datetime.fromisoformat(body["date"]).tzinfo is not None
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Привет <b>&</b> 😀")]
    assert get_message(client_for(alice), body["id"])["status"] == "sent"


@pytest.mark.parametrize("url", URLS, ids=["no-slash", "slash"])
def test_post_form_encoded_content(alice, url):
    link(alice, ALICE_CHAT)

    response = basic_client("alice").post(
        url, urlencode({"content": "form body"}), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 202
    assert Message.objects.get(pk=response.json()["id"]).text == "form body"


@CLIENTS
@pytest.mark.parametrize("url", URLS, ids=["no-slash", "slash"])
def test_get_lists_own_messages_newest_first_with_date_and_content(alice, bob, make_client, url):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    api = make_client(alice)
    for content in ["one", "two"]:
        assert api.post(URLS[0], {"content": content}, format="json").status_code == 202
    assert bearer_client(bob).post(URLS[0], {"content": "bob's"}, format="json").status_code == 202

    response = api.get(url)

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [item["content"] for item in body] == ["two", "one"]
    for item in body:
        assert {"date", "content"} <= set(item)
        assert datetime.fromisoformat(item["date"]).tzinfo is not None


def test_get_with_no_messages_is_an_empty_array(alice):
    assert basic_client("alice").get(URLS[0]).json() == []


@pytest.mark.parametrize("content", ["", "  \n\t"], ids=["empty", "whitespace"])
def test_empty_content_is_400_naming_content(alice, content):
    link(alice, ALICE_CHAT)

    response = basic_client("alice").post(URLS[0], {"content": content}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["content"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [{}, {"text": "the other surface's field"}, {"content": 7}, {"content": None}])
def test_missing_or_wrong_content_is_400_naming_content(alice, body):
    link(alice, ALICE_CHAT)

    response = basic_client("alice").post(URLS[0], body, format="json")

    assert response.status_code == 400
    assert "content" in response.json()
    assert not Message.objects.exists()


def test_content_length_limit(alice):
    link(alice, ALICE_CHAT)
    api = basic_client("alice")

    assert api.post(URLS[0], {"content": "x" * 32768}, format="json").status_code == 202
    assert api.post(URLS[0], {"content": "x" * 32769}, format="json").status_code == 400


def test_post_without_a_linked_chat_is_409(alice):
    response = basic_client("alice").post(URLS[0], {"content": "Hello"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "chat_not_linked"


@pytest.mark.parametrize("url", URLS, ids=["no-slash", "slash"])
def test_unauthenticated_is_401(alice, url):
    link(alice, ALICE_CHAT)

    assert APIClient().post(url, {"content": "Hello"}, format="json").status_code == 401
    assert APIClient().get(url).status_code == 401
    assert not Message.objects.exists()


def test_wrong_basic_password_is_401(alice):
    link(alice, ALICE_CHAT)
    api = basic_client("alice", "not the password")

    assert api.post(URLS[0], {"content": "Hello"}, format="json").status_code == 401
    assert api.get(URLS[0]).status_code == 401
    assert not Message.objects.exists()
