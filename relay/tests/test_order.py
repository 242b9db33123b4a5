"""One chat receives its messages one at a time, in the order the API accepted them."""

import pytest

from conftest import ALICE_CHAT, BOB_CHAT, link, make_due, run_sweep
from relay.tests.helpers import delivered_text, get_message, post_text, stored, texts

pytestmark = pytest.mark.django_db(transaction=True)


def test_later_messages_wait_behind_one_that_failed(tg, alice_linked):
    tg.add_fault(kind="500")

    ids = [post_text(alice_linked, text)["id"] for text in ["first", "second", "third"]]

    assert tg.sent() == []
    # Only the first was tried; the others were never offered to Telegram.
    assert tg.request_counts()["counts"]["sendMessage"] == 1
    assert [get_message(alice_linked, pk)["status"] for pk in ids] == ["queued"] * 3
    assert [stored(pk).attempts for pk in ids] == [1, 0, 0]

    make_due()
    run_sweep()

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        delivered_text("Alice", "first"),
        delivered_text("Alice", "second"),
        delivered_text("Alice", "third"),
    ]
    assert [get_message(alice_linked, pk)["status"] for pk in ids] == ["sent"] * 3
    sent_at = [get_message(alice_linked, pk)["sent_at"] for pk in ids]
    assert sent_at == sorted(sent_at)


def test_sweep_alone_keeps_the_order_when_only_later_messages_look_due(tg, alice_linked):
    tg.add_fault(kind="500")
    ids = [post_text(alice_linked, text)["id"] for text in ["first", "second", "third"]]
    # Only the later ones are due; the first still waits for its retry.
    first = stored(ids[0])
    assert first.next_attempt_at > stored(ids[2]).next_attempt_at

    run_sweep()

    assert tg.sent() == []
    assert [get_message(alice_linked, pk)["status"] for pk in ids] == ["queued"] * 3


def test_failure_in_the_middle_holds_back_only_what_follows(tg, alice_linked):
    first = post_text(alice_linked, "first")
    tg.add_fault(kind="502")
    second = post_text(alice_linked, "second")
    third = post_text(alice_linked, "third")

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "first")]
    assert get_message(alice_linked, first["id"])["status"] == "sent"
    assert get_message(alice_linked, third["id"])["status"] == "queued"

    make_due()
    run_sweep()

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [
        delivered_text("Alice", "first"),
        delivered_text("Alice", "second"),
        delivered_text("Alice", "third"),
    ]
    assert get_message(alice_linked, second["id"])["attempts"] == 1


def test_order_holds_across_repeated_failures_and_a_429(tg, alice_linked):
    tg.add_fault(kind="500")
    ids = [post_text(alice_linked, f"message {index}")["id"] for index in range(5)]
    tg.add_fault(kind="429", retry_after=3)
    tg.add_fault(kind="drop")

    for _ in range(4):
        make_due()
        run_sweep()

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", f"message {index}") for index in range(5)]
    assert [get_message(alice_linked, pk)["status"] for pk in ids] == ["sent"] * 5


def test_long_text_parts_are_not_interleaved_with_the_next_message(tg, alice_linked):
    tg.add_fault(kind="500")
    long_text = "\n".join(f"line {index} " + "x" * 60 for index in range(150))
    post_text(alice_linked, long_text)
    post_text(alice_linked, "short")

    make_due()
    run_sweep()

    sent = texts(tg.sent(chat_id=ALICE_CHAT))
    assert len(sent) == 4
    assert "".join(sent[:3]) == delivered_text("Alice", long_text)
    assert sent[3] == delivered_text("Alice", "short")


def test_one_chat_waiting_does_not_hold_back_another(tg, alice, alice_linked, bob, bob_api):
    link(bob, BOB_CHAT)
    tg.add_fault(kind="500", chat_id=ALICE_CHAT)

    alice_message = post_text(alice_linked, "from alice")
    bob_message = post_text(bob_api, "from bob")

    assert get_message(alice_linked, alice_message["id"])["status"] == "queued"
    assert get_message(bob_api, bob_message["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "from bob")]
    assert tg.sent(chat_id=ALICE_CHAT) == []
