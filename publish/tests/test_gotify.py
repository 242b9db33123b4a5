"""Gotify's `POST /message` over HTTP, and what reaches the simulated Telegram."""

import pytest
from django.test import Client

from conftest import ALICE_CHAT, BOB_CHAT, basic_auth
from publish.services import create_integration
from relay import destinations
from relay.models import Destination, Message
from relay.splitting import format_header, utf16_len

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = format_header("Alice")
OWNER = 7001


@pytest.fixture
def app_token(alice_linked, alice) -> str:
    """A Gotify integration's secret: the application token a tool is given."""
    _, secret = create_integration(user=alice, kind="gotify", name="Uptime Kuma")
    return secret


def post_json(body: dict, **headers):
    return Client().post("/message", body, content_type="application/json", headers=headers)


def only_sent(tg, chat_id: int = ALICE_CHAT) -> dict:
    sent = tg.sent(chat_id)
    assert len(sent) == 1, sent
    return sent[0]


def assert_error(response, status: int, phrase: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["error"], body["errorCode"]) == (phrase, status), body
    assert isinstance(body["errorDescription"], str) and body["errorDescription"]
    return body


def test_a_message_arrives_and_answers_as_gotify(tg, app_token):
    response = post_json({"title": "Backup", "message": "Backup done", "priority": 5}, **{"X-Gotify-Key": app_token})

    assert response.status_code == 200, response.content
    body = response.json()
    message = Message.objects.get()
    integration = message.user.integrations.get()
    assert body == {
        "id": message.pk,
        "appid": integration.pk,
        "message": "Backup done",
        "title": "Backup",
        "priority": 5,
        "date": body["date"],
    }
    assert body["date"].endswith("Z") and body["date"].startswith(str(message.created_at.year))
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "Backup\nBackup done"
    assert {"type": "bold", "offset": utf16_len(HEADER), "length": 6} in sent["entities"]
    assert "disable_notification" not in sent
    integration.refresh_from_db()
    assert integration.last_used_at is not None


@pytest.mark.parametrize("where", ["query", "bearer"])
def test_the_token_in_the_query_or_as_bearer(tg, app_token, where):
    if where == "query":
        response = Client().post(f"/message?token={app_token}", {"message": "hi"}, content_type="application/json")
    else:
        response = post_json({"message": "hi"}, Authorization=f"Bearer {app_token}")

    assert response.status_code == 200, response.content
    assert only_sent(tg)["text"] == HEADER + "hi"


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_form_as_curl_sends_it(tg, app_token, encoding):
    form = {"title": "From curl", "message": "curl -F", "priority": "2"}
    if encoding == "urlencoded":
        body = "title=From+curl&message=curl+-F&priority=2"
        response = Client().post(f"/message?token={app_token}", body, content_type="application/x-www-form-urlencoded")
    else:
        response = Client().post(f"/message?token={app_token}", form)

    assert response.status_code == 200, response.content
    assert response.json()["priority"] == 2
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "From curl\ncurl -F"
    assert sent["disable_notification"] is True


@pytest.mark.parametrize(("priority", "silent"), [(0, True), (1, True), (3, True), (4, False), (8, False), (10, False)])
def test_low_priorities_are_silent(tg, app_token, priority, silent):
    assert post_json({"message": "p", "priority": priority}, **{"X-Gotify-Key": app_token}).status_code == 200

    assert only_sent(tg).get("disable_notification", False) is silent


def test_without_a_priority_the_destination_decides(tg, app_token, alice):
    destinations.update(destination=Destination.objects.get(user=alice), silent=True)
    response = post_json({"message": "no priority"}, **{"X-Gotify-Key": app_token})

    assert response.json()["priority"] == 0
    assert only_sent(tg)["disable_notification"] is True


def test_markdown_and_click_extras(tg, app_token):
    extras = {
        "client::display": {"contentType": "text/markdown"},
        "client::notification": {"click": {"url": "https://status.example/"}},
        "android::action": {"onReceive": {"intentUrl": "https://ignored.example/"}},
    }
    response = post_json({"message": "Service **down**", "extras": extras}, **{"X-Gotify-Key": app_token})

    assert response.status_code == 200, response.content
    assert response.json()["extras"] == extras
    sent = only_sent(tg)
    assert sent["text"] == HEADER + "Service down"
    assert {"type": "bold", "offset": utf16_len(HEADER) + 8, "length": 4} in sent["entities"]
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Open ↗", "url": "https://status.example/"}]]}


def test_plain_content_keeps_the_stars(tg, app_token):
    extras = {"client::display": {"contentType": "text/plain"}}
    post_json({"message": "**as is**", "extras": extras}, **{"X-Gotify-Key": app_token})

    assert only_sent(tg)["text"] == HEADER + "**as is**"


@pytest.mark.parametrize(
    "credentials",
    [{}, {"X-Gotify-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": basic_auth("alice")}],
    ids=["none", "wrong-key", "wrong-bearer", "password"],
)
def test_without_an_application_token_gotifys_401(tg, alice_linked, credentials):
    assert_error(post_json({"message": "x"}, **credentials), 401, "Unauthorized")
    assert not Message.objects.exists()


def test_another_kinds_secret_is_no_application_token(tg, alice_linked, alice):
    _, secret = create_integration(user=alice, kind="ntfy", name="not gotify")

    assert_error(post_json({"message": "x"}, **{"X-Gotify-Key": secret}), 401, "Unauthorized")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"message": ""},
        {"message": "  "},
        {"message": 5},
        {"message": "x", "priority": "high"},
        {"message": "x", "priority": 1.5},
        {"message": "x", "title": ["no"]},
        {"message": "x", "extras": "no"},
    ],
)
def test_what_gotify_refuses_is_its_400(tg, app_token, body):
    assert_error(post_json(body, **{"X-Gotify-Key": app_token}), 400, "Bad Request")


def test_a_body_that_is_not_json_is_a_400(tg, app_token):
    response = Client().post("/message", "{oops", content_type="application/json", headers={"X-Gotify-Key": app_token})

    assert_error(response, 400, "Bad Request")


def test_an_integration_with_a_destination_sends_there(tg, alice_linked, alice):
    chat_id = tg.create_group("Ops", members={OWNER: "creator"})
    tg.add_bot_to_group(chat_id, by=OWNER)
    ops = destinations.link(user=alice, chat=destinations.ChatInfo(chat_id=chat_id, kind="group", title="Ops"))
    _, secret = create_integration(user=alice, kind="gotify", name="proxmox", destination=ops)

    assert post_json({"message": "vm 101 backup failed"}, **{"X-Gotify-Key": secret}).status_code == 200
    assert [r["text"] for r in tg.sent(chat_id)] == [HEADER + "vm 101 backup failed"]
    assert tg.sent(ALICE_CHAT) == []


def test_bobs_token_reaches_only_bobs_chat(tg, alice_linked, bob_linked, bob):
    _, secret = create_integration(user=bob, kind="gotify", name="bob's")

    assert post_json({"message": "from bob"}, **{"X-Gotify-Key": secret}).status_code == 200
    assert tg.sent(ALICE_CHAT) == []
    assert [r["text"] for r in tg.sent(BOB_CHAT)] == [format_header("Bob") + "from bob"]


def test_only_post_is_offered(tg, app_token):
    response = Client().get("/message", headers={"X-Gotify-Key": app_token})

    assert_error(response, 405, "Method Not Allowed")
    assert response["Allow"] == "POST"


def test_the_original_message_route_is_untouched(tg, alice_linked):
    response = Client().post(
        "/message/sent",
        {"content": "old route"},
        content_type="application/json",
        headers={"Authorization": basic_auth("alice")},
    )

    assert response.status_code == 202, response.content
    assert only_sent(tg)["text"] == HEADER + "old route"


def test_the_quota_is_gotifys_429(tg, app_token, settings):
    settings.MESSAGES_PER_MINUTE = 1
    assert post_json({"message": "one"}, **{"X-Gotify-Key": app_token}).status_code == 200

    response = post_json({"message": "two"}, **{"X-Gotify-Key": app_token})
    assert_error(response, 429, "Too Many Requests")
    assert int(response["Retry-After"]) >= 1


def test_no_linked_chat_is_a_conflict(tg, alice):
    _, secret = create_integration(user=alice, kind="gotify", name="early")

    assert_error(post_json({"message": "x"}, **{"X-Gotify-Key": secret}), 409, "Conflict")
