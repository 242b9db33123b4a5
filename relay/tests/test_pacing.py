"""Pace and fairness: per-chat spacing, the global budget, 429 pauses, round-robin over chats."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from conftest import ALICE_CHAT, BOB_CHAT, client_for, link, make_due, make_user, run_sweep
from relay import pacing
from relay.models import Destination, Message
from relay.splitting import format_header
from relay.tasks import deliver_destination_task
from relay.tests.helpers import delivered_text, get_message, post_text, stored, texts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def one_second_apart(settings):
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 1


CAROL_CHAT = 3003


@pytest.fixture
def carol_linked(db):
    carol = make_user("carol", "Carol")
    link(carol, CAROL_CHAT)
    return client_for(carol)


def queue_directly(user, count: int) -> list[Message]:
    """A backlog that was accepted earlier and is waiting in the queue."""
    chat = Destination.objects.get(user=user)
    now = timezone.now()
    return Message.objects.bulk_create(
        Message(
            user=user,
            destination=chat,
            header=format_header(user.name),
            text=f"backlog {number}",
            created_at=now,
            updated_at=now,
            next_attempt_at=now,
        )
        for number in range(count)
    )


def test_a_chat_gets_one_message_per_interval(tg, one_second_apart, alice_linked):
    first = post_text(alice_linked, "one")
    second = post_text(alice_linked, "two")

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "one")]
    assert get_message(alice_linked, first["id"])["status"] == "sent"
    assert get_message(alice_linked, second["id"])["status"] == "queued"
    # The chat is not ready again until its interval has passed since the last send.
    chat = Destination.objects.get(chat_id=ALICE_CHAT)
    assert pacing.chat_ready_at(chat) == chat.last_sent_at + timedelta(seconds=1)
    # And a task is booked to look at it then.
    assert chat.next_turn_at == chat.last_sent_at + timedelta(seconds=1)

    run_sweep()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1

    # A second passes: for the chat's last send, and for the turn booked for it then.
    Destination.objects.filter(pk=chat.pk).update(
        last_sent_at=F("last_sent_at") - timedelta(seconds=1), next_turn_at=F("next_turn_at") - timedelta(seconds=1)
    )
    run_sweep()
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "one"), delivered_text("Alice", "two")]


def test_a_waiting_chat_has_one_delivery_scheduled_however_many_messages_arrive(tg, one_second_apart, alice_linked):
    for number in range(20):
        post_text(alice_linked, f"message {number}")
    run_sweep()

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    # One delivery task waits for the chat's next turn, not one per message.
    scheduled = [task for task in HUEY.scheduled() if isinstance(task, deliver_destination_task.task_class)]
    assert [task.args for task in scheduled] == [(Destination.objects.get(chat_id=ALICE_CHAT).pk,)]


def test_parts_of_a_long_message_are_spaced_like_messages(tg, one_second_apart, alice_linked):
    body = post_text(alice_linked, "word " * 2000)

    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert stored(body["id"]).parts_sent == 1
    assert get_message(alice_linked, body["id"])["status"] == "queued"

    make_due()
    run_sweep()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 2
    assert get_message(alice_linked, body["id"])["status"] == "queued"

    make_due()
    run_sweep()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 3
    assert get_message(alice_linked, body["id"])["status"] == "sent"


def test_another_chat_is_not_held_back_by_a_backlog(tg, one_second_apart, alice, alice_linked, bob_linked):
    queue_directly(alice, 1000)
    run_sweep()
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1

    body = post_text(bob_linked, "right away")

    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "right away")]
    assert get_message(bob_linked, body["id"])["status"] == "sent"
    assert Message.objects.filter(user=alice, status=Message.Status.QUEUED).count() == 999


def test_a_turn_ends_after_a_bounded_number_of_sends(tg, alice, alice_linked, monkeypatch):
    """Without spacing, a chat still goes to the back of the queue after a few sends."""
    from relay import delivery, tasks

    scheduled = []
    monkeypatch.setattr(tasks.deliver_destination_task, "schedule", lambda args, eta: scheduled.append((args, eta)))
    queue_directly(alice, delivery.SENDS_PER_TURN + 5)

    run_sweep()

    assert len(tg.sent(chat_id=ALICE_CHAT)) == delivery.SENDS_PER_TURN
    assert [args for args, _ in scheduled] == [(Destination.objects.get(user=alice).pk,)]


def test_global_rate_is_shared_by_every_send(tg, settings, alice, alice_linked, bob_linked, monkeypatch):
    """With the bucket empty, nothing is sent, and the chat is looked at again shortly."""
    from relay import tasks

    scheduled = []
    monkeypatch.setattr(tasks.deliver_destination_task, "schedule", lambda args, eta: scheduled.append(eta))
    monkeypatch.setattr(pacing, "acquire_send_slot", lambda timeout=5.0: False)

    body = post_text(alice_linked, "waits for budget")

    assert tg.sent() == []
    assert get_message(alice_linked, body["id"])["status"] == "queued"
    assert len(scheduled) == 1 and scheduled[0] > timezone.now()


def test_the_bucket_spreads_the_rate_over_the_second(settings):
    """At 20 a second, sends are 50 ms apart: of a burst, one goes at once and the rest wait their turn."""
    settings.DELIVERY_GLOBAL_RATE = 20
    pacing._limiter.cache_clear()
    try:
        admitted = [pacing.acquire_send_slot(timeout=0) for _ in range(8)]
    finally:
        pacing._limiter.cache_clear()
    assert admitted == [True] + [False] * 7


def test_429_for_one_chat_pauses_only_that_chat(tg, alice_linked, bob_linked):
    tg.add_fault(kind="429", retry_after=9, chat_id=ALICE_CHAT)
    body = post_text(alice_linked, "flooded")

    assert pacing.bot_paused_until() is None
    assert stored(body["id"]).attempts == 0
    post_text(bob_linked, "goes through")
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "goes through")]
    assert tg.sent(chat_id=ALICE_CHAT) == []


def test_429_for_a_second_chat_at_once_pauses_the_whole_bot(tg, alice, alice_linked, bob_linked, carol_linked):
    tg.add_fault(kind="429", retry_after=9, chat_id=ALICE_CHAT)
    tg.add_fault(kind="429", retry_after=9, chat_id=BOB_CHAT)
    post_text(alice_linked, "flooded")
    before = timezone.now()
    bob_body = post_text(bob_linked, "flooded too")
    after = timezone.now()

    paused = pacing.bot_paused_until()
    assert paused is not None
    assert before + timedelta(seconds=9) <= paused <= after + timedelta(seconds=9)
    assert stored(bob_body["id"]).attempts == 0

    # Carol's message waits for the bot-wide pause, not for a failure.
    carol_body = post_text(carol_linked, "waits")
    assert tg.sent(chat_id=CAROL_CHAT) == []
    assert get_message(carol_linked, carol_body["id"])["status"] == "queued"

    make_due()
    run_sweep()
    assert texts(tg.sent(chat_id=CAROL_CHAT)) == [delivered_text("Carol", "waits")]
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "flooded")]
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "flooded too")]


def test_chat_pause_from_429_holds_the_chat_exactly_retry_after(tg, alice_linked):
    tg.add_fault(kind="429", retry_after=6, chat_id=ALICE_CHAT)
    before = timezone.now()
    post_text(alice_linked, "waits")
    after = timezone.now()

    chat = Destination.objects.get(chat_id=ALICE_CHAT)
    assert before + timedelta(seconds=6) <= chat.paused_until <= after + timedelta(seconds=6)
    ready = pacing.chat_ready_at(chat)
    assert ready == chat.paused_until
