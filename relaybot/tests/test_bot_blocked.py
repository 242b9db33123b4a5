"""The user blocking or restarting the bot (my_chat_member), and commands addressed to another bot.

Updates go through POST /telegram/webhook/ shaped exactly as Telegram sends them; the
effect is checked on the API: a chat whose user blocked the bot is refused at once.
"""

import json
import secrets

import pytest
from django.core.cache import caches
from django.test import Client

from conftest import ALICE_CHAT, BOB_CHAT, text_update
from relay.models import Destination

pytestmark = pytest.mark.django_db

SECRET = "test-webhook-secret"
BOT = {"id": 7000000001, "is_bot": True, "first_name": "tg-relay demo", "username": "relay_test_bot"}


def webhook(client, update: dict):
    body = json.dumps(update)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    return client.post("/telegram/webhook/", data=body, content_type="application/json", headers=headers)


def membership(chat_id: int, old: str, new: str, *, chat_type: str = "private") -> dict:
    """A my_chat_member update as Telegram sends it when a user blocks (kicked) or restarts (member) the bot."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Alice", "language_code": "en"}
    chat = {"id": chat_id, "first_name": "Alice", "type": chat_type}
    if chat_type != "private":
        chat = {"id": chat_id, "title": "Team", "type": chat_type}
    new_member = {"user": BOT, "status": new}
    if new == "kicked":
        new_member["until_date"] = 0
    return {
        "update_id": 800_000_000 + secrets.randbelow(10**8),
        "my_chat_member": {
            "chat": chat,
            "from": user,
            "date": 1767225600,
            "old_chat_member": {"user": BOT, "status": old},
            "new_chat_member": new_member,
        },
    }


def post_message(api, text: str = "hello"):
    return api.post("/api/v1/messages/", {"text": text}, format="json")


def test_blocking_the_bot_refuses_the_next_message_at_once(tg, client, alice_linked):
    assert webhook(client, membership(ALICE_CHAT, "member", "kicked")).status_code == 200

    refused = post_message(alice_linked)

    assert refused.status_code == 409
    assert refused.json()["code"] == "chat_unreachable"
    assert "blocked" in refused.json()["detail"]
    assert tg.sent() == []


def test_restarting_the_bot_accepts_messages_again(tg, client, alice_linked):
    webhook(client, membership(ALICE_CHAT, "member", "kicked"))
    assert post_message(alice_linked).status_code == 409

    assert webhook(client, membership(ALICE_CHAT, "kicked", "member")).status_code == 200

    assert post_message(alice_linked).status_code == 202
    assert alice_linked.get("/api/v1/telegram/link/").json()["chat"]["unreachable_reason"] == ""


def test_blocking_concerns_only_that_chat(tg, client, alice_linked, bob_linked):
    webhook(client, membership(ALICE_CHAT, "member", "kicked"))

    assert post_message(bob_linked).status_code == 202
    assert post_message(alice_linked).status_code == 409


def test_a_block_redelivered_after_the_restart_changes_nothing(tg, client, alice_linked):
    blocked = membership(ALICE_CHAT, "member", "kicked")
    webhook(client, blocked)
    assert post_message(alice_linked).status_code == 409
    webhook(client, membership(ALICE_CHAT, "kicked", "member"))

    webhook(client, blocked)

    assert post_message(alice_linked).status_code == 202


def test_only_a_block_in_the_linked_private_chat_counts(tg, client, alice_linked):
    assert webhook(client, membership(-4001, "member", "kicked", chat_type="group")).status_code == 200
    assert webhook(client, membership(BOB_CHAT, "member", "kicked")).status_code == 200
    assert post_message(alice_linked).status_code == 202
    assert not Destination.objects.filter(chat_id=BOB_CHAT).exists()

    webhook(client, membership(ALICE_CHAT, "member", "kicked"))

    assert post_message(alice_linked).status_code == 409
    assert tg.sent() == []


def test_linking_again_after_a_block_clears_it(tg, client, alice, alice_linked):
    webhook(client, membership(ALICE_CHAT, "member", "kicked"))
    assert post_message(alice_linked).status_code == 409
    code = alice_linked.post("/api/v1/telegram/link/").json()["code"]

    webhook(client, text_update(ALICE_CHAT, f"/start {code}"))

    assert post_message(alice_linked).status_code == 202


# -- /start@bot ----------------------------------------------------------------------


@pytest.mark.parametrize("ours", ["relay_test_bot", "Relay_Test_Bot"])
def test_start_addressed_to_another_bot_links_nothing_and_to_ours_links(tg, client, alice, alice_api, ours):
    code = alice_api.post("/api/v1/telegram/link/").json()["code"]

    assert webhook(client, text_update(ALICE_CHAT, f"/start@SomeOtherBot {code}")).status_code == 200

    assert not Destination.objects.exists()
    assert tg.sent() == []
    # The code is still good, addressed to us (usernames are case-insensitive).
    webhook(client, text_update(ALICE_CHAT, f"/start@{ours} {code}"))
    assert Destination.objects.get().user == alice
    assert "Alice" in tg.sent(chat_id=ALICE_CHAT)[0]["text"]


def test_stop_addressed_to_another_bot_does_not_unlink(tg, client, alice_linked):
    webhook(client, text_update(ALICE_CHAT, "/stop@SomeOtherBot"))

    assert Destination.objects.filter(chat_id=ALICE_CHAT).exists()
    assert tg.sent() == []


def test_an_addressed_command_waits_for_get_me_rather_than_guessing(tg, alice, alice_api):
    code = alice_api.post("/api/v1/telegram/link/").json()["code"]
    update = text_update(ALICE_CHAT, f"/start@relay_test_bot {code}")
    caches["local"].clear()  # The username the deep link above looked up, as in a freshly started process.
    tg.add_fault(kind="502", method="getMe")

    # Not handled, so Telegram delivers it again.
    assert webhook(Client(raise_request_exception=False), update).status_code == 500
    assert not Destination.objects.exists()

    assert webhook(Client(), update).status_code == 200
    assert Destination.objects.get().user == alice


def test_a_send_that_lands_after_a_block_does_not_clear_the_block(alice_linked, tg):
    # Delivery loaded the chat while it was marked for another reason (an operator retried a
    # message); the user blocked the bot before the send's success was recorded.
    Destination.objects.filter(chat_id=ALICE_CHAT).update(unreachable_reason="Forbidden: user is deactivated")
    seen_by_delivery = Destination.objects.get(chat_id=ALICE_CHAT)
    assert webhook(Client(), membership(ALICE_CHAT, "member", "kicked")).status_code == 200

    from relay.destinations import mark_reachable

    mark_reachable(destination=seen_by_delivery)

    assert Destination.objects.get(chat_id=ALICE_CHAT).unreachable_reason == "Forbidden: bot was blocked by the user"
