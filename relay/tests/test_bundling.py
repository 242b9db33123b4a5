"""Bundling: what waits for a destination's next turn goes out as one Telegram message, within Telegram's limit."""

import pytest
from django.test import Client

from conftest import ALICE_CHAT, make_due, run_sweep
from relay.splitting import TELEGRAM_TEXT_LIMIT, format_header, split_message, utf16_len
from relay.tests.helpers import delivered_text, get_message, post_text, stored, texts
from relay.tests.linking import destination, destination_url

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = format_header("Alice")
# Outside the Basic Multilingual Plane: one code point, two UTF-16 units.
EMOJI = "\U0001f680"


@pytest.fixture
def waiting_turns(settings):
    """A chat's next turn comes long after a send, so whatever is posted meanwhile waits for it."""
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 60
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100


@pytest.fixture
def bundling(tg, waiting_turns, alice_linked):
    """Alice's private chat with bundling on, and a first message just sent: the chat waits for its next turn."""
    mine = destination(alice_linked, "me")
    assert alice_linked.patch(destination_url(mine["id"]), {"bundle": True}, format="json").status_code == 200
    post_text(alice_linked, "first")
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "first")]
    return alice_linked


def next_turn() -> None:
    make_due()
    run_sweep()


def bundled(*messages: str) -> str:
    """One Telegram message carrying these messages, each with its header, a blank line between them."""
    return "\n\n".join(delivered_text("Alice", message) for message in messages)


def test_what_waits_for_the_next_turn_goes_as_one_message_in_order(tg, bundling):
    bodies = [post_text(bundling, text) for text in ["second", "third\nwith a line break", "fourth"]]
    assert [get_message(bundling, body["id"])["status"] for body in bodies] == ["queued"] * 3

    next_turn()

    sent = tg.sent(chat_id=ALICE_CHAT)
    assert texts(sent) == [
        delivered_text("Alice", "first"),
        f"{HEADER}second\n\n{HEADER}third\nwith a line break\n\n{HEADER}fourth",
    ]
    telegram_id = sent[1]["message_id"]
    for body in bodies:
        message = get_message(bundling, body["id"])
        assert (message["status"], message["error"], message["attempts"]) == ("sent", "", 0)
        assert stored(body["id"]).telegram_message_ids == [telegram_id]
    assert len({get_message(bundling, body["id"])["sent_at"] for body in bodies}) == 1


def test_the_cabinet_shows_each_bundled_message_as_received_in_the_one_telegram_message(tg, alice, bundling):
    bodies = [post_text(bundling, text) for text in ["one", "two"]]
    next_turn()
    telegram_id = tg.sent(chat_id=ALICE_CHAT)[-1]["message_id"]
    cabinet = Client()
    cabinet.force_login(alice)

    for body in bodies:
        page = cabinet.get(f"/cabinet/messages/{body['id']}/", HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        assert f"received, Telegram message {telegram_id}" in page.content.decode()


def test_a_message_alone_in_its_turn_is_sent_as_usual(tg, bundling):
    post_text(bundling, "alone")

    next_turn()

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "first"), delivered_text("Alice", "alone")]


def test_a_bundle_never_exceeds_4096_utf16_units_and_each_is_as_full_as_it_can_be(tg, bundling):
    # 500 emoji: 1,000 UTF-16 units but 500 code points a message, so three fit in
    # a bundle by Telegram's UTF-16 count where counting code points would put seven.
    posted = [f"{number}:{EMOJI * 500}" for number in range(10)]
    for text in posted:
        post_text(bundling, text)

    for _ in range(len(posted)):
        next_turn()

    sent = texts(tg.sent(chat_id=ALICE_CHAT))[1:]
    assert "\n\n".join(sent) == bundled(*posted)
    assert all(utf16_len(text) <= TELEGRAM_TEXT_LIMIT for text in sent)
    bundles = [text.split("\n\n") for text in sent]
    assert [len(bundle) for bundle in bundles] == [3, 3, 3, 1]
    # Each bundle took every message that fitted: the next one would have gone past the limit.
    for bundle, following in zip(sent, bundles[1:], strict=False):
        assert utf16_len(bundle + "\n\n" + following[0]) > TELEGRAM_TEXT_LIMIT


def test_a_bundle_of_exactly_4096_utf16_units_is_one_message_and_one_unit_more_is_two(tg, bundling):
    # Two messages whose bundle is exactly the limit, the second ending in an emoji.
    room = TELEGRAM_TEXT_LIMIT - 2 * utf16_len(HEADER) - len("\n\n")
    exact = ["a" * (room // 2), "b" * (room - room // 2 - 2) + EMOJI]
    assert utf16_len(bundled(*exact)) == TELEGRAM_TEXT_LIMIT
    for text in exact:
        post_text(bundling, text)

    next_turn()

    assert texts(tg.sent(chat_id=ALICE_CHAT))[1:] == [bundled(*exact)]

    over = [exact[0], exact[1] + "c"]
    for text in over:
        post_text(bundling, text)
    next_turn()
    next_turn()

    assert texts(tg.sent(chat_id=ALICE_CHAT))[2:] == [delivered_text("Alice", text) for text in over]


def test_a_message_too_long_for_one_telegram_message_goes_alone_and_bundling_resumes_after_it(tg, bundling):
    long_text = "word " * 1500
    parts = split_message("Alice", long_text)
    assert len(parts) == 2
    bodies = [post_text(bundling, text) for text in ["a", "b", long_text, "c", "d"]]

    for _ in range(4):
        next_turn()

    assert texts(tg.sent(chat_id=ALICE_CHAT))[1:] == [bundled("a", "b"), *parts, bundled("c", "d")]
    assert [get_message(bundling, body["id"])["status"] for body in bodies] == ["sent"] * 5
    assert len(stored(bodies[2]["id"]).telegram_message_ids) == 2
    assert stored(bodies[3]["id"]).telegram_message_ids == stored(bodies[4]["id"]).telegram_message_ids


def test_a_message_waiting_for_its_retry_holds_back_those_behind_it_and_is_bundled_with_them(tg, bundling):
    tg.add_fault(kind="500")
    retried = post_text(bundling, "retried")
    behind = post_text(bundling, "behind")
    next_turn()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert get_message(bundling, retried["id"])["attempts"] == 1

    later = post_text(bundling, "later")
    run_sweep()
    # Nothing behind the message waiting for its retry goes ahead of it.
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert [get_message(bundling, body["id"])["status"] for body in (retried, behind, later)] == ["queued"] * 3

    next_turn()

    assert texts(tg.sent(chat_id=ALICE_CHAT))[1:] == [bundled("retried", "behind", "later")]
    assert [get_message(bundling, body["id"])["status"] for body in (retried, behind, later)] == ["sent"] * 3


def test_with_bundling_off_each_message_is_its_own_telegram_message(tg, waiting_turns, alice_linked):
    post_text(alice_linked, "first")
    bodies = [post_text(alice_linked, text) for text in ["second", "third", "fourth"]]

    next_turn()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 2
    next_turn()
    next_turn()

    sent = tg.sent(chat_id=ALICE_CHAT)
    assert texts(sent) == [delivered_text("Alice", text) for text in ["first", "second", "third", "fourth"]]
    assert [stored(body["id"]).telegram_message_ids for body in bodies] == [
        [record["message_id"]] for record in sent[1:]
    ]


def test_turning_bundling_off_sends_what_waits_one_by_one(tg, bundling):
    mine = destination(bundling, "me")
    for text in ["second", "third"]:
        post_text(bundling, text)

    bundling.patch(destination_url(mine["id"]), {"bundle": False}, format="json")
    next_turn()
    next_turn()

    assert texts(tg.sent(chat_id=ALICE_CHAT))[1:] == [
        delivered_text("Alice", "second"),
        delivered_text("Alice", "third"),
    ]


def test_a_429_on_a_bundle_keeps_every_message_queued_in_order_and_the_bundle_goes_later(tg, bundling):
    tg.add_fault(kind="429", retry_after=30)
    bodies = [post_text(bundling, text) for text in ["second", "third", "fourth"]]

    next_turn()

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    for body in bodies:
        message = get_message(bundling, body["id"])
        assert (message["status"], message["attempts"]) == ("queued", 0)
    run_sweep()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1

    next_turn()

    sent = tg.sent(chat_id=ALICE_CHAT)
    assert texts(sent)[1:] == [bundled("second", "third", "fourth")]
    assert [stored(body["id"]).telegram_message_ids for body in bodies] == [[sent[1]["message_id"]]] * 3


def test_a_refused_bundle_fails_only_its_first_message_and_the_rest_go_on(tg, bundling):
    tg.add_fault(kind="too_long")
    bodies = [post_text(bundling, text) for text in ["refused", "third", "fourth"]]

    next_turn()

    refused = get_message(bundling, bodies[0]["id"])
    assert refused["status"] == "failed"
    assert refused["error"] == "Telegram refused the message: Bad Request: message is too long"
    assert [get_message(bundling, body["id"])["status"] for body in bodies[1:]] == ["sent", "sent"]
    assert texts(tg.sent(chat_id=ALICE_CHAT))[1:] == [bundled("third", "fourth")]


def test_a_bundle_is_silent_only_when_every_message_in_it_is(tg, bundling):
    mine = destination(bundling, "me")
    post_text(bundling, "rings")
    bundling.patch(destination_url(mine["id"]), {"silent": True}, format="json")
    post_text(bundling, "quiet")
    next_turn()
    post_text(bundling, "quiet too")
    post_text(bundling, "and quiet")
    next_turn()

    sent = tg.sent(chat_id=ALICE_CHAT)
    assert texts(sent)[1:] == [bundled("rings", "quiet"), bundled("quiet too", "and quiet")]
    assert [record.get("disable_notification", False) for record in sent[1:]] == [False, True]
