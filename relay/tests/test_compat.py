"""POST and GET /message/sent, the original assignment's routes, over the same services."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, basic_auth, client_for, link
from relay.models import Message
from relay.selectors import messages_for_user
from relay.serializers import SentCompatOutput
from relay.tests.helpers import delivered_text, get_message, streamed_json, texts

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
    body = streamed_json(response)
    assert isinstance(body, list)
    assert [item["content"] for item in body] == ["two", "one"]
    for item in body:
        assert {"date", "content"} <= set(item)
        assert datetime.fromisoformat(item["date"]).tzinfo is not None


def test_get_with_no_messages_is_an_empty_array(alice):
    assert streamed_json(basic_client("alice").get(URLS[0])) == []


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


# -- GET /message/sent: the whole history, streamed ------------------------------------


def add_history(user, count: int) -> list[Message]:
    """Rows straight in the table, oldest first, a few seconds apart; some whole seconds, some not."""
    chat = Message._meta.get_field("destination").related_model.objects.filter(user=user).first()
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    texts = ['quote " backslash \\ tab \t', "строка\nвторая 🚀", "<b>&</b>", "line\u2028separator", "x" * 300]
    return Message.objects.bulk_create(
        Message(
            user=user,
            destination=chat,
            text=f"{index}: {texts[index % len(texts)]}",
            status=["queued", "sent", "failed"][index % 3],
            created_at=start + timedelta(seconds=3 * index, microseconds=(index % 2) * 1234),
        )
        for index in range(count)
    )


def as_drf_wrote_it(user) -> list[dict]:
    """The answer as the route gave it before it streamed: DRF's serializer over the whole list."""
    return json.loads(JSONRenderer().render(SentCompatOutput(messages_for_user(user=user), many=True).data))


def test_get_streams_every_message_as_drf_wrote_them_in_the_same_order(alice, bob):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    rows = add_history(alice, 400)  # more than one chunk of the stream
    add_history(bob, 3)
    # The list is in order of acceptance time, not of id.
    Message.objects.filter(pk=rows[0].pk).update(created_at=rows[-1].created_at + timedelta(minutes=1))

    response = basic_client("alice").get(URLS[0])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = streamed_json(response)
    assert len(body) == 400
    assert body == as_drf_wrote_it(alice)
    assert body[0]["id"] == rows[0].pk
    assert {item["date"][-1] for item in body} == {"Z"}
    assert any("." not in item["date"] for item in body) and any("." in item["date"] for item in body)


def pages(client: APIClient, limit: int, between=None) -> list[dict]:
    """Every page of `limit`, each starting before the last id of the one before."""
    seen, query = [], {"limit": limit}
    while True:
        page = streamed_json(client.get(URLS[1], query))
        assert len(page) <= limit
        if not page:
            return seen
        seen += page
        query = {"limit": limit, "before": page[-1]["id"]}
        if between:
            between()


def test_get_pages_with_limit_and_before_in_the_same_order(alice, bob):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    rows = add_history(alice, 23)
    add_history(bob, 5)
    Message.objects.filter(pk=rows[3].pk).update(created_at=rows[-1].created_at + timedelta(minutes=1))
    everything = as_drf_wrote_it(alice)
    api = basic_client("alice")

    assert pages(api, 5) == everything
    assert pages(api, 1) == everything
    assert streamed_json(api.get(URLS[0], {"limit": 3})) == everything[:3]
    assert streamed_json(api.get(URLS[0], {"before": everything[9]["id"]})) == everything[10:]
    assert streamed_json(api.get(URLS[0], {"before": min(row.pk for row in rows)})) == []


def test_paging_goes_on_where_a_deleted_message_stood(alice):
    link(alice, ALICE_CHAT)
    add_history(alice, 12)
    everything = as_drf_wrote_it(alice)
    api = basic_client("alice")
    first = streamed_json(api.get(URLS[0], {"limit": 4}))
    # Retention or the admin deletes the last message of the page before the next is asked for.
    Message.objects.filter(pk=first[-1]["id"]).delete()

    rest = streamed_json(api.get(URLS[0], {"limit": 100, "before": first[-1]["id"]}))

    assert rest == everything[4:]
    # Above every id: from the newest on.
    assert streamed_json(api.get(URLS[0], {"before": 2**63 - 1})) == everything[:3] + everything[4:]


def test_paging_never_reaches_into_another_account(alice, bob):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    add_history(alice, 4)
    theirs = add_history(bob, 4)

    mine = streamed_json(basic_client("alice").get(URLS[0], {"before": theirs[-1].pk + 1}))

    assert [item["id"] for item in mine] == [item["id"] for item in as_drf_wrote_it(alice)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "-3"),
        ("limit", "ten"),
        ("limit", ""),
        ("limit", "5.0"),
        ("limit", "+5"),
        ("limit", "١٢"),
        ("before", "0"),
        ("before", "1e3"),
        ("before", str(2**63)),
        ("before", "9" * 5000),
    ],
)
def test_a_bad_paging_parameter_is_400_naming_it(alice, name, value):
    link(alice, ALICE_CHAT)

    response = basic_client("alice").get(URLS[0], {name: value})

    assert response.status_code == 400
    assert list(response.json()) == [name]
