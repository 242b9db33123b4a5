"""POST /telegram/webhook/: authenticated by the secret token, feeding the same handler as the poller."""

import json
import time

import pytest
from django.db import OperationalError
from django.test import Client

from conftest import ALICE_CHAT, text_update, verification_code_in
from relay.models import Destination
from relaybot import services
from relaybot.client import get_bot

pytestmark = pytest.mark.django_db

URL = "/telegram/webhook/"
SECRET = "test-webhook-secret"


def post(body, secret: str | None = SECRET, client: Client | None = None):
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return (client or Client()).post(URL, data=data, content_type="application/json", headers=headers)


def test_right_secret_is_accepted_and_the_update_handled(tg):
    response = post(text_update(ALICE_CHAT, "hello"))

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [reply] = tg.sent(chat_id=ALICE_CHAT)
    verification_code_in(reply["text"])


def test_webhook_links_a_chat_by_deep_link(tg, alice, alice_api):
    code = alice_api.post("/api/v1/telegram/link/").json()["code"]

    assert post(text_update(ALICE_CHAT, f"/start {code}")).status_code == 200

    assert Destination.objects.get().user == alice
    assert alice_api.get("/api/v1/telegram/link/").json()["chat"]["chat_id"] == ALICE_CHAT


@pytest.mark.parametrize(
    "secret",
    [None, "", "wrong", SECRET.upper(), SECRET + "x", SECRET[:-1], " " + SECRET],
    ids=["missing", "empty", "wrong", "other case", "longer", "shorter", "padded"],
)
def test_wrong_or_missing_secret_is_refused(tg, secret):
    response = post(text_update(ALICE_CHAT, "hello"), secret=secret)

    assert response.status_code == 403
    assert tg.sent() == []


def test_a_refused_update_is_handled_when_it_comes_with_the_secret(tg):
    update = text_update(ALICE_CHAT, "hello")
    assert post(update, secret="wrong").status_code == 403

    assert post(update).status_code == 200

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_without_a_configured_secret_every_call_is_refused(tg, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    assert post(text_update(ALICE_CHAT, "hello"), secret="").status_code == 403
    assert post(text_update(ALICE_CHAT, "hello"), secret=None).status_code == 403
    assert post(text_update(ALICE_CHAT, "hello"), secret=SECRET).status_code == 403
    assert tg.sent() == []


def test_webhook_needs_no_csrf_token(tg):
    response = post(text_update(ALICE_CHAT, "hello"), client=Client(enforce_csrf_checks=True))

    assert response.status_code == 200
    assert len(tg.sent()) == 1


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post_is_allowed(tg, method):
    response = getattr(Client(), method)(URL, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})

    assert response.status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        b'{"update_id": 10, "message": {"message_id": 1, "chat": {"id": 1001, "type": "priv',
        b"",
        b"not json at all",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'"hello"',
        b"null",
        b"42",
        b'{"update_id": "ten", "message": "hello"}',
        b'{"update_id": 11, "edited_message": {"chat": {"id": 1001, "type": "private"}, "text": "hi"}}',
        b'{"update_id": 12, "callback_query": {"id": "1", "data": "x"}}',
        b'{"update_id": 13, "message": {"chat": {"id": -5, "type": "group"}, "from": {"id": 1}, "text": "hi"}}',
        b"[" * 100_000,
        b'{"update_id": ' * 30_000,  # deep, yet within the request size limit
        b'{"update_id": 99999999999999999999999, "message": {"chat": {"id": 1001, "type": "private"}, '
        b'"from": {"id": 1001, "is_bot": false, "first_name": "A"}, "text": "hi"}}',
    ],
    ids=[
        "truncated",
        "empty",
        "not json",
        "binary",
        "list",
        "string",
        "null",
        "number",
        "wrong types",
        "edit",
        "callback",
        "group",
        "deeply nested list",
        "deeply nested object",
        "update id past 64 bits",
    ],
)
def test_garbage_and_ignored_updates_get_200_and_no_reply(tg, body):
    response = post(body)

    assert response.status_code == 200
    assert tg.sent() == []
    assert not Destination.objects.exists()


def test_garbage_with_a_wrong_secret_is_still_refused(tg):
    assert post(b"{not json", secret="wrong").status_code == 403


def test_a_redelivered_update_is_answered_once(tg):
    update = text_update(ALICE_CHAT, "hello")

    assert post(update).status_code == 200
    assert post(update).status_code == 200

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


def test_webhook_answers_200_when_the_reply_cannot_be_sent(tg):
    tg.block(ALICE_CHAT)

    assert post(text_update(ALICE_CHAT, "hello")).status_code == 200


@pytest.fixture
def webhook_to(live_server, tg):
    """Make the simulated Telegram push updates to this app's webhook."""
    bot = get_bot()

    def point(secret: str) -> None:
        assert bot.set_webhook(f"{live_server.url}{URL}", secret) is True

    yield point
    bot.delete_webhook()


def deliveries_of(tg, update_id: int, timeout: float = 10) -> list[dict]:
    """Wait until the simulated Telegram has recorded a push of this update; returns the pushes so far."""
    deadline = time.monotonic() + timeout
    while not (found := [d for d in tg.webhook_deliveries() if d["update_id"] == update_id]):
        assert time.monotonic() < deadline, f"update {update_id} was never pushed"
        time.sleep(0.02)
    return found


@pytest.mark.django_db(transaction=True)
def test_telegram_pushes_updates_to_the_webhook(tg, webhook_to):
    webhook_to(SECRET)

    update_id = tg.user_says(ALICE_CHAT, "hello", language_code="en")

    [reply] = tg.wait_sent(1, chat_id=ALICE_CHAT)
    verification_code_in(reply["text"])
    assert [(d["status"], d["ok"]) for d in deliveries_of(tg, update_id)] == [(200, True)]


@pytest.mark.django_db(transaction=True)
def test_pushes_with_the_wrong_secret_are_refused(tg, webhook_to):
    webhook_to("not-the-secret")

    update_id = tg.user_says(ALICE_CHAT, "hello")

    assert deliveries_of(tg, update_id)[0]["status"] == 403
    assert tg.sent() == []


def test_an_update_that_failed_half_way_is_handled_when_redelivered(tg, monkeypatch):
    # Recorded as handled only together with what it changed, so Telegram's redelivery
    # after our 500 is not mistaken for a duplicate.
    issue = services.issue_verification_code
    calls = []

    def fails_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return issue(**kwargs)

    monkeypatch.setattr(services, "issue_verification_code", fails_once)
    update = text_update(ALICE_CHAT, "hello")

    assert post(update, client=Client(raise_request_exception=False)).status_code == 500
    assert tg.sent() == []
    assert post(update).status_code == 200

    [reply] = tg.sent(chat_id=ALICE_CHAT)
    verification_code_in(reply["text"])
    assert post(update).status_code == 200
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
