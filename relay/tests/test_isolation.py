"""Nobody receives or sees another account's messages, even when chats change hands."""

import pytest

from conftest import ALICE_CHAT, BOB_CHAT, link, make_due, run_sweep
from relay.tests.helpers import (
    LINK_URL,
    MESSAGES_URL,
    delivered_text,
    get_message,
    message_url,
    post_text,
    streamed_json,
    texts,
)
from relaybot.texts import text

pytestmark = pytest.mark.django_db(transaction=True)

COMPAT_URL = "/message/sent"


@pytest.fixture
def both_linked(alice, bob, alice_api, bob_api):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    return alice_api, bob_api


def test_each_message_goes_only_to_its_own_chat(tg, both_linked):
    alice_api, bob_api = both_linked

    post_text(alice_api, "alice one")
    post_text(bob_api, "bob one")
    post_text(alice_api, "alice two")

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        delivered_text("Alice", "alice one"),
        delivered_text("Alice", "alice two"),
    ]
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "bob one")]
    assert {record["chat_id"] for record in tg.sent()} == {ALICE_CHAT, BOB_CHAT}


def test_bob_never_sees_alices_messages(tg, both_linked):
    alice_api, bob_api = both_linked
    secret = post_text(alice_api, "alice's secret")
    mine = post_text(bob_api, "bob's own")

    listed = bob_api.get(MESSAGES_URL).json()
    assert listed["next"] is None
    assert [item["id"] for item in listed["results"]] == [mine["id"]]

    detail = bob_api.get(message_url(secret["id"]))
    assert detail.status_code == 404

    compat = streamed_json(bob_api.get(COMPAT_URL))
    assert [item["content"] for item in compat] == ["bob's own"]

    for response in (bob_api.get(MESSAGES_URL), detail):
        assert "alice's secret" not in response.content.decode()
    for response in (bob_api.get(COMPAT_URL), bob_api.get(COMPAT_URL + "/")):
        assert "alice's secret" not in b"".join(response.streaming_content).decode()

    assert [item["id"] for item in alice_api.get(MESSAGES_URL).json()["results"]] == [secret["id"]]
    assert get_message(alice_api, secret["id"])["text"] == "alice's secret"


def test_bob_gets_404_for_alices_id_whatever_its_status(tg, both_linked):
    alice_api, bob_api = both_linked
    sent = post_text(alice_api, "sent")
    tg.add_fault(kind="500")
    queued = post_text(alice_api, "queued")
    tg.block(ALICE_CHAT)
    make_due()
    run_sweep()

    assert get_message(alice_api, sent["id"])["status"] == "sent"
    assert get_message(alice_api, queued["id"])["status"] == "failed"
    for body in (sent, queued):
        assert bob_api.get(message_url(body["id"])).status_code == 404


def test_unlinking_fails_queued_messages_instead_of_delivering_them_later(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    tg.add_fault(kind="500")
    body = post_text(alice_api, "written for the old chat")

    assert alice_api.delete(LINK_URL).status_code == 204

    message = get_message(alice_api, body["id"])
    assert message["status"] == "failed"
    assert message["error"] == "Not delivered: the chat was unlinked."
    assert alice_api.post(MESSAGES_URL, {"text": "no chat"}, format="json").status_code == 409

    link(alice, 3003)
    make_due()
    run_sweep()

    # The old chat hears only that it was unlinked (cabinet/tests/test_confirm_unlink.py).
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [text("ru", "unlinked", username="alice")]
    assert tg.sent(chat_id=3003) == []
    assert get_message(alice_api, body["id"])["status"] == "failed"
    later = post_text(alice_api, "written for the new chat")
    assert get_message(alice_api, later["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=3003)) == [delivered_text("Alice", "written for the new chat")]


def test_relinking_the_same_chat_after_unlinking_does_not_revive_old_messages(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    tg.add_fault(kind="500")
    body = post_text(alice_api, "old")
    alice_api.delete(LINK_URL)

    link(alice, ALICE_CHAT)
    make_due()
    run_sweep()

    assert texts(tg.sent()) == [text("ru", "unlinked", username="alice")]
    assert get_message(alice_api, body["id"])["status"] == "failed"


def test_chat_taken_over_by_another_account_never_gets_the_old_owners_messages(tg, alice, alice_api, bob, bob_api):
    link(alice, ALICE_CHAT)
    tg.add_fault(kind="500")
    body = post_text(alice_api, "alice's queued text")

    link(bob, ALICE_CHAT)
    make_due()
    run_sweep()
    post_text(bob_api, "bob's text")

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Bob", "bob's text")]
    message = get_message(alice_api, body["id"])
    assert message["status"] == "failed"
    assert message["error"] == "Not delivered: the chat was linked to another account."
    assert alice_api.post(MESSAGES_URL, {"text": "no chat"}, format="json").status_code == 409


def test_account_moving_to_another_chat_fails_what_was_queued_for_the_old_one(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    tg.add_fault(kind="500")
    body = post_text(alice_api, "for the old chat")

    link(alice, 3003)
    make_due()
    run_sweep()

    assert tg.sent() == []
    message = get_message(alice_api, body["id"])
    assert message["status"] == "failed"
    assert message["error"] == "Not delivered: the account was linked to another chat."


def test_unlinking_elsewhere_does_not_touch_the_other_account(tg, both_linked):
    alice_api, bob_api = both_linked
    tg.add_fault(kind="500", chat_id=BOB_CHAT)
    bob_message = post_text(bob_api, "bob waits")

    alice_api.delete(LINK_URL)
    make_due()
    run_sweep()

    assert get_message(bob_api, bob_message["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "bob waits")]
