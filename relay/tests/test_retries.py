"""Each failure Telegram can answer with, and what delivery does about it."""

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

import relaybot.client
from conftest import ALICE_CHAT, link, make_due, run_sweep
from relay import delivery
from relay.delivery import backoff_seconds
from relay.models import Destination, Message
from relay.splitting import format_header, split_message
from relay.tests.helpers import LINK_URL, MESSAGES_URL, delivered_text, get_message, post_text, stored, texts
from relaybot.client import BotClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_timeout(settings, monkeypatch):
    """A client with a 0.3 s timeout, built fresh and thrown away after the test."""
    settings.TELEGRAM_TIMEOUT_SECONDS = 0.3
    clients: dict = {}
    monkeypatch.setattr(relaybot.client, "_clients", clients)
    yield
    for client in clients.values():
        client.close()


def post_timed(api, text: str) -> tuple[dict, object, object]:
    """POST, returning the body and the clock just before and just after the call."""
    before = timezone.now()
    body = post_text(api, text)
    after = timezone.now()
    return body, before, after


def sweep_timed() -> tuple[object, object]:
    make_due()
    before = timezone.now()
    run_sweep()
    return before, timezone.now()


# -- backoff ----------------------------------------------------------------------


def test_backoff_doubles_with_each_attempt_within_its_jitter_bounds(settings, monkeypatch):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 2
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 600
    bounds = []
    monkeypatch.setattr("relay.delivery.random.uniform", lambda low, high: bounds.append((low, high)) or high)

    ceilings = [backoff_seconds(attempts) for attempts in range(1, 7)]

    assert ceilings == [2, 4, 8, 16, 32, 64]
    assert bounds == [(1, 2), (2, 4), (4, 8), (8, 16), (16, 32), (32, 64)]


def test_backoff_is_capped(settings, monkeypatch):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 2
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 600
    bounds = []
    monkeypatch.setattr("relay.delivery.random.uniform", lambda low, high: bounds.append((low, high)) or high)

    assert backoff_seconds(10) == 600
    assert backoff_seconds(60) == 600
    assert bounds == [(300, 600), (300, 600)]


def test_backoff_is_jittered_inside_its_bounds(settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 10
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 600

    samples = {attempts: [backoff_seconds(attempts) for _ in range(200)] for attempts in (1, 2, 3)}

    for attempts, values in samples.items():
        ceiling = 10 * 2 ** (attempts - 1)
        assert all(ceiling / 2 <= value <= ceiling for value in values)
        assert len(set(values)) > 1
    # A later attempt never waits less than an earlier one.
    assert min(samples[2]) >= max(samples[1])
    assert min(samples[3]) >= max(samples[2])


# -- transient failures -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error_part"),
    [("500", "500: Internal Server Error"), ("502", "502: Bad Gateway"), ("drop", "network: sendMessage")],
)
def test_transient_failure_keeps_the_message_queued_then_sends_it(tg, alice_linked, settings, kind, error_part):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100
    tg.add_fault(kind=kind)

    body, before, after = post_timed(alice_linked, "Hello")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "queued"
    assert message["attempts"] == 1
    assert error_part in message["error"]
    assert message["sent_at"] is None
    next_attempt_at = stored(body["id"]).next_attempt_at
    assert before + timedelta(seconds=50) <= next_attempt_at <= after + timedelta(seconds=100)
    assert tg.sent() == []

    make_due()
    run_sweep()

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "sent"
    assert message["sent_at"] is not None
    assert message["error"] == ""
    assert message["attempts"] == 1
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]


def test_nothing_is_retried_before_its_time(tg, alice_linked):
    tg.add_fault(kind="500")
    body = post_text(alice_linked, "Hello")

    run_sweep()

    assert get_message(alice_linked, body["id"])["status"] == "queued"
    assert tg.request_counts()["counts"]["sendMessage"] == 1


def test_backoff_grows_between_attempts(tg, alice_linked, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100
    tg.add_fault(kind="500", times=2)

    body, before, after = post_timed(alice_linked, "Hello")
    first_wait = stored(body["id"]).next_attempt_at
    assert before + timedelta(seconds=50) <= first_wait <= after + timedelta(seconds=100)

    before, after = sweep_timed()
    row = stored(body["id"])
    assert row.attempts == 2
    assert before + timedelta(seconds=100) <= row.next_attempt_at <= after + timedelta(seconds=200)

    make_due()
    run_sweep()
    assert get_message(alice_linked, body["id"])["status"] == "sent"
    assert tg.request_counts()["counts"]["sendMessage"] == 3


def test_answer_slower_than_the_client_timeout_is_retried(tg, alice_linked, short_timeout, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100
    tg.add_fault(kind="slow", delay=2)

    body, before, after = post_timed(alice_linked, "Hello")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "queued"
    assert message["attempts"] == 1
    assert "timed out" in message["error"]
    assert stored(body["id"]).next_attempt_at >= before + timedelta(seconds=50)

    make_due()
    run_sweep()

    assert get_message(alice_linked, body["id"])["status"] == "sent"
    # Telegram has no idempotency key: the slow request was accepted in the
    # end, so the chat gets the text twice. Waiting for it also keeps it from
    # landing in the next test.
    late = tg.wait_sent(2, chat_id=ALICE_CHAT)
    assert texts(late) == [delivered_text("Alice", "Hello")] * 2


def test_gives_up_after_the_maximum_attempts(tg, alice_linked, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    tg.add_fault(kind="500", times=-1)

    body = post_text(alice_linked, "Hello")
    assert get_message(alice_linked, body["id"])["attempts"] == 1
    make_due()
    run_sweep()
    assert get_message(alice_linked, body["id"])["attempts"] == 2
    assert get_message(alice_linked, body["id"])["status"] == "queued"
    make_due()
    run_sweep()

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "failed"
    assert message["attempts"] == 3
    assert message["error"].startswith("Gave up after 3 attempts")
    assert "500" in message["error"]
    assert message["sent_at"] is None

    tg.clear_faults()
    make_due()
    run_sweep()
    assert tg.sent() == []
    assert tg.request_counts()["counts"]["sendMessage"] == 3


# -- 429 --------------------------------------------------------------------------


def test_429_waits_exactly_retry_after_and_is_not_an_attempt(tg, alice_linked):
    tg.add_fault(kind="429", retry_after=7)

    body, before, after = post_timed(alice_linked, "Hello")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "queued"
    assert message["attempts"] == 0
    assert "429" in message["error"]
    next_attempt_at = stored(body["id"]).next_attempt_at
    assert before + timedelta(seconds=7) <= next_attempt_at <= after + timedelta(seconds=7)
    assert tg.request_counts()["rate_limited"] == 1

    run_sweep()
    assert tg.sent() == []

    make_due()
    run_sweep()
    message = get_message(alice_linked, body["id"])
    assert message["status"] == "sent"
    assert message["attempts"] == 0
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]


def test_429_retry_after_is_exact_with_a_frozen_clock(tg, alice_linked, monkeypatch):
    frozen = timezone.now().replace(microsecond=0)
    monkeypatch.setattr("relay.delivery.timezone.now", lambda: frozen)
    tg.add_fault(kind="429", retry_after=7)

    body = post_text(alice_linked, "Hello")

    assert stored(body["id"]).next_attempt_at == frozen + timedelta(seconds=7)


def test_repeated_429s_never_use_up_the_attempts(tg, alice_linked, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    tg.add_fault(kind="429", retry_after=1, times=4)

    body = post_text(alice_linked, "Hello")
    for _ in range(4):
        make_due()
        run_sweep()

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "sent"
    assert message["attempts"] == 0
    assert tg.request_counts()["rate_limited"] == 4


# -- the chat is gone -------------------------------------------------------------


def cut_off_by_block(tg, chat_id):
    tg.block(chat_id)


def cut_off_by_not_found(tg, chat_id):
    tg.chat_not_found(chat_id)


@pytest.mark.parametrize(
    ("cut_off", "reason"),
    [
        (cut_off_by_block, "Forbidden: bot was blocked by the user"),
        (cut_off_by_not_found, "Bad Request: chat not found"),
    ],
    ids=["403-blocked", "400-chat-not-found"],
)
def test_unreachable_chat_fails_its_messages_until_linked_again(tg, alice, alice_linked, cut_off, reason):
    # The first message waits for a retry and the second waits behind it.
    tg.add_fault(kind="500")
    first = post_text(alice_linked, "first")
    second = post_text(alice_linked, "second")
    assert get_message(alice_linked, second["id"])["status"] == "queued"
    cut_off(tg, ALICE_CHAT)

    make_due()
    run_sweep()

    for body in (first, second):
        message = get_message(alice_linked, body["id"])
        assert message["status"] == "failed"
        assert reason in message["error"]
        assert message["sent_at"] is None
    chat = alice_linked.get(LINK_URL).json()["chat"]
    assert reason in chat["unreachable_reason"]
    assert tg.sent() == []

    refused = alice_linked.post(MESSAGES_URL, {"text": "third"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "chat_unreachable"
    assert reason in refused.json()["detail"]
    assert Message.objects.count() == 2

    tg.reset()
    link(alice, ALICE_CHAT)
    assert alice_linked.get(LINK_URL).json()["chat"]["unreachable_reason"] == ""
    fourth = post_text(alice_linked, "fourth")

    assert get_message(alice_linked, fourth["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "fourth")]
    assert get_message(alice_linked, first["id"])["status"] == "failed"
    assert get_message(alice_linked, second["id"])["status"] == "failed"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("403", "Forbidden: bot was blocked by the user"), ("chat_not_found", "Bad Request: chat not found")],
)
def test_unreachable_answer_fails_at_once_without_retrying(tg, alice_linked, kind, reason):
    tg.add_fault(kind=kind)

    body = post_text(alice_linked, "Hello")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "failed"
    assert message["error"] == f"Telegram: {reason}"
    assert Destination.objects.get(chat_id=ALICE_CHAT).unreachable_reason == reason

    make_due()
    run_sweep()
    assert tg.request_counts()["counts"]["sendMessage"] == 1


# -- migration --------------------------------------------------------------------


def test_migrated_chat_moves_to_the_new_id_and_the_message_is_resent(tg, alice, alice_linked):
    new_chat_id = -1009876543210123  # beyond 32 bits, as supergroup ids are
    tg.migrate(ALICE_CHAT, new_chat_id)

    body = post_text(alice_linked, "Hello")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "sent"
    assert message["attempts"] == 0
    assert tg.sent(chat_id=ALICE_CHAT) == []
    assert texts(tg.sent(chat_id=new_chat_id)) == [delivered_text("Alice", "Hello")]
    assert alice_linked.get(LINK_URL).json()["chat"]["chat_id"] == new_chat_id
    assert Destination.objects.get(user=alice).chat_id == new_chat_id

    post_text(alice_linked, "Again")
    assert texts(tg.sent(chat_id=new_chat_id))[-1] == delivered_text("Alice", "Again")
    # The move is remembered: the second message went straight to the new id.
    assert tg.request_counts()["counts"]["sendMessage"] == 3


def test_migration_fault_is_followed_once(tg, alice_linked):
    new_chat_id = -1001234567890
    tg.add_fault(kind="migrate", migrate_to_chat_id=new_chat_id)

    body = post_text(alice_linked, "Hello")

    assert get_message(alice_linked, body["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=new_chat_id)) == [delivered_text("Alice", "Hello")]


def test_migration_onto_a_chat_linked_to_another_account_fails_instead_of_crossing(tg, alice_linked, bob):
    new_chat_id = -1001234567890
    link(bob, new_chat_id)
    tg.migrate(ALICE_CHAT, new_chat_id)

    body = post_text(alice_linked, "Hello")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "failed"
    assert "another account" in message["error"]
    assert tg.sent(chat_id=new_chat_id) == []
    assert Destination.objects.get(chat_id=new_chat_id).user == bob


# -- long texts -------------------------------------------------------------------


def test_failed_part_is_resent_alone_after_the_parts_already_delivered(tg, alice_linked, monkeypatch):
    text = "\n".join(f"line {index} " + "x" * 60 for index in range(150))
    parts = split_message("Alice", text)
    assert len(parts) == 3
    send_message = BotClient.send_message
    accepted = []

    def break_after_first_part(self, chat_id, part, **options):
        result = send_message(self, chat_id, part, **options)
        accepted.append(part)
        if len(accepted) == 1:
            tg.add_fault(kind="500")
        return result

    monkeypatch.setattr(BotClient, "send_message", break_after_first_part)

    body = post_text(alice_linked, text)

    row = stored(body["id"])
    assert row.status == Message.Status.QUEUED
    assert row.parts_sent == 1
    assert row.attempts == 1
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == parts[:1]

    make_due()
    run_sweep()

    assert get_message(alice_linked, body["id"])["status"] == "sent"
    sent = tg.sent(chat_id=ALICE_CHAT)
    assert texts(sent) == parts
    assert stored(body["id"]).telegram_message_ids == [record["message_id"] for record in sent]


def test_unreachable_chat_in_the_middle_of_a_long_text_fails_it(tg, alice_linked, monkeypatch):
    text = "\n".join(f"line {index} " + "x" * 60 for index in range(150))
    send_message = BotClient.send_message

    def block_after_first_part(self, chat_id, part, **options):
        result = send_message(self, chat_id, part, **options)
        tg.block(ALICE_CHAT)
        return result

    monkeypatch.setattr(BotClient, "send_message", block_after_first_part)

    body = post_text(alice_linked, text)

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "failed"
    assert "blocked" in message["error"]
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1


# -- a dispatch that never ran ----------------------------------------------------


def test_message_whose_dispatch_failed_is_delivered_by_the_sweep(tg, alice_linked, monkeypatch, caplog):
    def queue_down(chat_pk):
        raise ConnectionError("queue unavailable")

    monkeypatch.setattr("relay.services.deliver_destination_task", queue_down)

    body = post_text(alice_linked, "Hello")

    assert body["status"] == "queued"
    assert get_message(alice_linked, body["id"])["status"] == "queued"
    assert tg.sent() == []
    assert "the sweep will retry" in caplog.text

    run_sweep()

    assert get_message(alice_linked, body["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]


def test_stored_message_that_was_never_dispatched_is_delivered_by_the_sweep(tg, alice, alice_api):
    chat = link(alice, ALICE_CHAT)
    message = Message.objects.create(user=alice, destination=chat, header=format_header("Alice"), text="Hello")
    assert tg.sent() == []

    run_sweep()

    assert get_message(alice_api, message.pk)["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]


def queued_behind_a_lease(user, token: str) -> tuple[Destination, Message]:
    """The user's chat, held for five more minutes under `token`, and a message waiting for it."""
    chat = link(user, ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).update(
        lease_token=token, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    return chat, Message.objects.create(user=user, destination=chat, header=format_header(user.name), text="Hello")


def test_chat_left_leased_by_a_dead_worker_is_delivered_once_the_lease_expires(tg, alice, alice_api):
    chat, message = queued_behind_a_lease(alice, "dead-worker")

    run_sweep()
    assert tg.sent() == []
    assert get_message(alice_api, message.pk)["status"] == "queued"

    Destination.objects.filter(pk=chat.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    run_sweep()

    assert get_message(alice_api, message.pk)["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]
    assert Destination.objects.get(pk=chat.pk).lease_token == ""


def lease_of(pid: int) -> str:
    """A lease as a delivery process of this machine with that pid writes it."""
    return f"{delivery._HOST}:{pid}:aaaaaa:bbbbbb"


def test_chat_left_leased_by_a_dead_process_of_this_machine_is_taken_over_at_the_next_sweep(tg, alice, alice_api):
    gone = subprocess.Popen(["true"])
    gone.wait()
    _, message = queued_behind_a_lease(alice, lease_of(gone.pid))

    run_sweep()

    assert get_message(alice_api, message.pk)["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]


def test_chat_leased_by_a_live_process_of_this_machine_is_left_to_it(tg, alice, alice_api):
    _, message = queued_behind_a_lease(alice, lease_of(os.getppid()))

    run_sweep()

    assert tg.sent() == []
    assert get_message(alice_api, message.pk)["status"] == "queued"


def test_queued_message_without_a_chat_is_failed_by_the_sweep(tg, alice, alice_api):
    message = Message.objects.create(user=alice, destination=None, text="Hello")

    run_sweep()

    body = get_message(alice_api, message.pk)
    assert body["status"] == "failed"
    assert body["error"] == "Not delivered: the chat was unlinked."
    assert tg.sent() == []
