"""Edges of delivery that no test checked.

An unreachable chat fails its own queue and no other; a refusal that no
retry changes fails that message alone; a lease is renewed before a send it
might not outlast; the sweep takes over only the leases of this machine's
dead processes, and dispatches exactly the chats whose turn it is; a message
accepted while its chat was held is delivered in the same call.
"""

import os
import signal
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from conftest import ALICE_CHAT, BOB_CHAT, link, make_due, make_user, run_sweep
from relay import delivery, pacing
from relay.models import Destination, Message
from relay.splitting import format_header
from relay.tests.helpers import LINK_URL, delivered_text, get_message, post_text, stored, texts
from relay.tests.test_lease_loss import failed_total
from relaybot.client import BotClient, TelegramError

pytestmark = pytest.mark.django_db(transaction=True)


def queue(user, chat: Destination, text: str = "Hello", **fields) -> Message:
    """A message stored as accepted but not dispatched: only what the test runs delivers it."""
    return Message.objects.create(user=user, destination=chat, header=format_header(user.name), text=text, **fields)


# -- what a refusal fails ----------------------------------------------------------------


def test_an_unreachable_chat_fails_only_its_own_queued_messages(tg, alice_linked, bob_linked):
    # Bob's message waits for a retry after a 500.
    tg.add_fault(kind="500", chat_id=BOB_CHAT)
    bobs = post_text(bob_linked, "Bob's, waiting")
    assert get_message(bob_linked, bobs["id"])["status"] == "queued"

    tg.block(ALICE_CHAT)
    alices = post_text(alice_linked, "Alice's, refused")

    assert get_message(alice_linked, alices["id"])["status"] == "failed"
    bobs_now = get_message(bob_linked, bobs["id"])
    assert (bobs_now["status"], bobs_now["error"]) == ("queued", "500: Internal Server Error")
    assert bob_linked.get(LINK_URL).json()["chat"]["unreachable_reason"] == ""
    make_due()
    run_sweep()
    assert get_message(bob_linked, bobs["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "Bob's, waiting")]


def test_a_permanent_refusal_fails_that_message_alone_without_retrying(tg, alice_linked):
    tg.add_fault(kind="too_long")

    refused = post_text(alice_linked, "refused")
    after = post_text(alice_linked, "after")

    message = get_message(alice_linked, refused["id"])
    assert message["status"] == "failed"
    assert message["error"] == "Telegram refused the message: Bad Request: message is too long"
    assert stored(refused["id"]).parts_sent == 0
    # Not the chat's fault: it stays reachable, and the next message goes.
    assert alice_linked.get(LINK_URL).json()["chat"]["unreachable_reason"] == ""
    assert get_message(alice_linked, after["id"])["status"] == "sent"
    make_due()
    run_sweep()
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "after")]
    assert tg.request_counts()["counts"]["sendMessage"] == 2


def test_failing_an_unreachable_chats_queue_counts_each_message_failed(tg, alice_linked, client):
    tg.add_fault(kind="500")
    post_text(alice_linked, "first")
    second = post_text(alice_linked, "second")
    failed_before = failed_total(client)
    tg.block(ALICE_CHAT)
    before = timezone.now()

    make_due()
    run_sweep()

    assert failed_total(client) == failed_before + 2
    # The message behind the one that was refused shows when it failed.
    assert stored(second["id"]).status == Message.Status.FAILED
    assert stored(second["id"]).updated_at >= before


def test_a_migration_onto_another_accounts_chat_says_so_exactly(tg, alice_linked, bob):
    new_chat_id = -1001234567890
    link(bob, new_chat_id)
    tg.migrate(ALICE_CHAT, new_chat_id)

    body = post_text(alice_linked, "Hello")

    assert (
        get_message(alice_linked, body["id"])["error"] == "Telegram: the chat moved to an id linked to another account"
    )


@pytest.mark.parametrize("retry_after", [0, 1])
def test_a_429_asking_for_a_second_or_less_pauses_the_chat_one_second(tg, alice_linked, retry_after):
    tg.add_fault(kind="429", retry_after=retry_after)
    before = timezone.now()

    body = post_text(alice_linked, "Hello")

    after = timezone.now()
    paused_until = Destination.objects.get(chat_id=ALICE_CHAT).paused_until
    assert before + timedelta(seconds=1) <= paused_until <= after + timedelta(seconds=1)
    assert stored(body["id"]).next_attempt_at == paused_until


def test_a_send_telegram_takes_clears_the_chats_unreachable_mark(tg, alice):
    chat = link(alice, ALICE_CHAT)
    message = queue(alice, chat)
    # Marked while the message waited; Telegram takes it all the same (the user unblocked the bot meanwhile).
    Destination.objects.filter(pk=chat.pk).update(unreachable_reason="Forbidden: bot was blocked by the user")

    delivery.deliver_destination(chat.pk)

    assert stored(message.pk).status == Message.Status.SENT
    assert Destination.objects.get(pk=chat.pk).unreachable_reason == ""
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "Hello")]


# -- holding a chat for good before it is deleted -------------------------------------------


def test_holding_a_free_chat_takes_it_from_delivery(tg, alice):
    chat = link(alice, ALICE_CHAT)
    message = queue(alice, chat)

    assert delivery.hold_destination(chat.pk, wait=1) is True

    assert delivery.deliver_destination(chat.pk) is None
    assert stored(message.pk).status == Message.Status.QUEUED


def test_holding_a_chat_whose_send_outlasts_the_wait_gives_up(tg, alice):
    chat, _ = held_by(alice, "a-send-under-way")

    assert delivery.hold_destination(chat.pk, wait=0.2) is False
    assert Destination.objects.get(pk=chat.pk).lease_token == "a-send-under-way"


def test_holding_a_chat_that_is_gone_is_done(tg, alice):
    chat = link(alice, ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).delete()

    assert delivery.hold_destination(chat.pk, wait=0.2) is True


@pytest.fixture
def long_refusals(monkeypatch):
    """Telegram, or an error of our own, with a reason far longer than a message's error field."""
    reasons = {}

    def send(self, chat_id, text, **options):
        kind = reasons["kind"]
        if kind == "unreachable":
            raise TelegramError(description="Forbidden: " + "x" * 600, error_code=403)
        raise type("Unexpected" + "E" * 600, (Exception,), {})()

    monkeypatch.setattr(BotClient, "send_message", send)
    return reasons


@pytest.mark.parametrize(
    ("kind", "attempts", "status"),
    [("unexpected", 2, "queued"), ("unexpected", 1, "failed"), ("unreachable", 2, "failed")],
)
def test_a_long_reason_is_cut_to_the_error_fields_500_characters(
    tg, alice_linked, settings, long_refusals, kind, attempts, status
):
    settings.DELIVERY_MAX_ATTEMPTS = attempts
    long_refusals["kind"] = kind

    body = post_text(alice_linked, "Hello")

    message = stored(body["id"])
    assert message.status == status
    assert len(message.error) == 500


# -- the lease before a send -------------------------------------------------------------


@pytest.fixture
def lease_seen_at_each_send(monkeypatch) -> list[float]:
    """The seconds left on the chat's lease, as stored, when each send takes its slot.

    Before each send the stored lease is set to end in one second, standing
    in for the clock: a worker that renews it before sending has it end a
    whole lease later again.
    """
    seen: list[float] = []
    chat_ready_at, acquire_send_slot = pacing.chat_ready_at, pacing.acquire_send_slot

    def nearly_over(chat):
        Destination.objects.filter(pk=chat.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=1))
        return chat_ready_at(chat)

    def noting_the_lease(timeout: float = 5.0) -> bool:
        expires = Destination.objects.get(chat_id=ALICE_CHAT).lease_expires_at
        seen.append((expires - timezone.now()).total_seconds())
        return acquire_send_slot(timeout)

    monkeypatch.setattr(pacing, "chat_ready_at", nearly_over)
    monkeypatch.setattr(pacing, "acquire_send_slot", noting_the_lease)
    return seen


@pytest.mark.parametrize(("lease_seconds", "renewed"), [(30, True), (600, False)])
def test_a_lease_too_short_for_a_send_is_renewed_before_it(
    tg, alice, settings, lease_seen_at_each_send, lease_seconds, renewed
):
    # One send can take 5 s for a slot and 4 × 10 s at Telegram: 30 s is too short, 600 s is not.
    settings.TELEGRAM_TIMEOUT_SECONDS = 10
    settings.DELIVERY_LEASE_SECONDS = lease_seconds
    chat = link(alice, ALICE_CHAT)
    messages = [queue(alice, chat, f"message {number}") for number in range(3)]

    assert delivery.deliver_destination(chat.pk) is None

    assert all(stored(message.pk).status == Message.Status.SENT for message in messages)
    assert len(lease_seen_at_each_send) == 3
    if renewed:
        assert all(lease_seconds - 5 < left <= lease_seconds for left in lease_seen_at_each_send)
    else:
        assert all(left <= 1 for left in lease_seen_at_each_send)
    assert Destination.objects.get(pk=chat.pk).lease_token == ""


def test_the_shortest_lease_allowed_is_a_slots_wait_four_timeouts_and_a_margin(settings):
    # 5 s for a send slot, 4 × 10 s at Telegram (pool, connect, write, read), 5 s for two clocks apart.
    settings.TELEGRAM_TIMEOUT_SECONDS = 10
    settings.DELIVERY_LEASE_SECONDS = 50
    call_command("check")

    settings.DELIVERY_LEASE_SECONDS = 49
    with pytest.raises(SystemCheckError, match=r"(?s)up to 45 s .* at least 50,"):
        call_command("check")


def test_a_lease_token_fits_its_column(tg, alice, monkeypatch):
    chat = link(alice, ALICE_CHAT)
    queue(alice, chat)
    tokens = []
    acquire_send_slot = pacing.acquire_send_slot

    def noting_the_token(timeout: float = 5.0) -> bool:
        tokens.append(Destination.objects.get(pk=chat.pk).lease_token)
        return acquire_send_slot(timeout)

    monkeypatch.setattr(pacing, "acquire_send_slot", noting_the_token)

    delivery.deliver_destination(chat.pk)

    assert len(tokens) == 1
    assert 0 < len(tokens[0]) <= Destination._meta.get_field("lease_token").max_length


def test_with_no_send_slot_in_time_the_chat_is_looked_at_again_a_second_later(tg, alice, monkeypatch):
    chat = link(alice, ALICE_CHAT)
    message = queue(alice, chat)
    monkeypatch.setattr(pacing, "acquire_send_slot", lambda timeout=5.0: False)
    before = timezone.now()

    retry_at = delivery.deliver_destination(chat.pk)

    after = timezone.now()
    assert before + timedelta(seconds=1) <= retry_at <= after + timedelta(seconds=1)
    assert stored(message.pk).status == Message.Status.QUEUED
    assert tg.sent() == []


def test_a_worker_whose_lease_was_taken_over_before_a_send_sends_nothing(tg, alice, settings, monkeypatch):
    settings.DELIVERY_LEASE_SECONDS = 30
    chat = link(alice, ALICE_CHAT)
    message = queue(alice, chat)
    chat_ready_at = pacing.chat_ready_at

    def taken_over(each):
        # Meanwhile the lease ran out and another worker claimed the chat.
        expires = timezone.now() + timedelta(minutes=5)
        Destination.objects.filter(pk=each.pk).update(lease_token="other", lease_expires_at=expires)
        return chat_ready_at(each)

    monkeypatch.setattr(pacing, "chat_ready_at", taken_over)

    assert delivery.deliver_destination(chat.pk) is None

    assert tg.sent() == []
    assert stored(message.pk).status == Message.Status.QUEUED
    # The other worker's lease is left to it.
    assert Destination.objects.get(pk=chat.pk).lease_token == "other"


def test_a_message_accepted_while_its_chat_was_held_is_delivered_before_letting_go(tg, alice_linked, monkeypatch):
    release = delivery._release
    late: list[dict] = []

    def accept_one_more_then_release(lease):
        if not late:
            # Its own dispatch finds the chat held and leaves it to the holder.
            late.append(post_text(alice_linked, "late"))
        release(lease)

    monkeypatch.setattr(delivery, "_release", accept_one_more_then_release)

    first = post_text(alice_linked, "first")

    assert get_message(alice_linked, first["id"])["status"] == "sent"
    assert get_message(alice_linked, late[0]["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "first"), delivered_text("Alice", "late")]


# -- a turn booked by another task while the chat was held -------------------------------


@pytest.fixture
def second_message_waits_a_second(tg, alice, settings):
    """Two messages for alice's chat; the second must wait a second after the first is sent."""
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 1
    chat = link(alice, ALICE_CHAT)
    return chat, [queue(alice, chat, "first"), queue(alice, chat, "second")]


def test_a_turn_booked_sooner_by_another_task_is_left_to_it(second_message_waits_a_second, bob):
    chat, (first, second) = second_message_waits_a_second
    sooner = timezone.now() + timedelta(milliseconds=500)
    Destination.objects.filter(pk=chat.pk).update(next_turn_at=sooner)
    # Another chat's turn has come: that is no reason to look at this one again.
    bobs = link(bob, BOB_CHAT)
    Destination.objects.filter(pk=bobs.pk).update(next_turn_at=timezone.now() - timedelta(seconds=1))

    assert delivery.deliver_destination(chat.pk) is None

    assert stored(first.pk).status == Message.Status.SENT
    assert stored(second.pk).status == Message.Status.QUEUED
    assert Destination.objects.get(pk=chat.pk).next_turn_at == sooner


def test_a_turn_whose_time_came_while_the_chat_was_held_is_taken_over(second_message_waits_a_second, monkeypatch):
    chat, (first, second) = second_message_waits_a_second
    sooner = timezone.now() + timedelta(milliseconds=500)
    Destination.objects.filter(pk=chat.pk).update(next_turn_at=sooner)
    release = delivery._release

    def the_booked_time_passes(lease):
        # The other task's time comes while this worker holds the chat: it finds the chat taken and gives up.
        Destination.objects.filter(pk=chat.pk, next_turn_at=sooner).update(
            next_turn_at=timezone.now() - timedelta(seconds=1)
        )
        release(lease)

    monkeypatch.setattr(delivery, "_release", the_booked_time_passes)

    retry_at = delivery.deliver_destination(chat.pk)

    # This call books the next turn itself, for when the second message may go.
    last_sent_at = Destination.objects.get(pk=chat.pk).last_sent_at
    assert retry_at == last_sent_at + timedelta(seconds=1)
    assert Destination.objects.get(pk=chat.pk).next_turn_at == retry_at
    assert stored(second.pk).status == Message.Status.QUEUED


def test_a_worker_that_lost_the_chat_books_no_turn_for_it(second_message_waits_a_second, monkeypatch):
    chat, (first, _) = second_message_waits_a_second
    chat_ready_at = pacing.chat_ready_at

    def taken_over_after_the_first_send(each):
        if stored(first.pk).status == Message.Status.SENT:
            # Its lease ran out after the first send was recorded, and another worker claimed the chat.
            expires = timezone.now() + timedelta(minutes=5)
            Destination.objects.filter(pk=each.pk).update(lease_token="other", lease_expires_at=expires)
        return chat_ready_at(each)

    monkeypatch.setattr(pacing, "chat_ready_at", taken_over_after_the_first_send)

    assert delivery.deliver_destination(chat.pk) is None

    held = Destination.objects.get(pk=chat.pk)
    assert (held.lease_token, held.next_turn_at) == ("other", None)


def test_a_booked_turn_whose_time_passed_is_booked_anew(second_message_waits_a_second):
    # A worker killed after booking a turn left it behind.
    chat, _ = second_message_waits_a_second
    Destination.objects.filter(pk=chat.pk).update(next_turn_at=timezone.now() - timedelta(minutes=1))

    retry_at = delivery.deliver_destination(chat.pk)

    assert retry_at is not None
    assert Destination.objects.get(pk=chat.pk).next_turn_at == retry_at


# -- taking over the leases of processes that are gone ------------------------------------


def dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def held_by(user, token: str, *, for_seconds: float = 300) -> tuple[Destination, Message]:
    chat = link(user, ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).update(
        lease_token=token, lease_expires_at=timezone.now() + timedelta(seconds=for_seconds)
    )
    return chat, queue(user, chat)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: f"0badc0de:{dead_pid()}:aaaaaa:bbbbbb", id="another-machine"),
        pytest.param(lambda: f"{delivery._HOST}:garbage", id="malformed"),
        pytest.param(lambda: f"{delivery._HOST}:not-a-pid:aaaaaa:bbbbbb", id="pid-not-a-number"),
        pytest.param(lambda: f"{delivery._HOST}:{os.getpid()}:{delivery._RUN}:bbbbbb", id="this-process"),
    ],
)
def test_a_lease_not_known_to_be_dead_is_left_to_its_holder(tg, alice, alice_api, token):
    token = token()
    chat, message = held_by(alice, token)

    assert delivery.release_dead_leases() == 0
    run_sweep()

    assert tg.sent() == []
    assert get_message(alice_api, message.pk)["status"] == "queued"
    assert Destination.objects.get(pk=chat.pk).lease_token == token


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: f"{delivery._HOST}:{dead_pid()}:aaaaaa:bbbbbb", id="dead-pid"),
        pytest.param(lambda: f"{delivery._HOST}:{os.getpid()}:zzzzzz:bbbbbb", id="this-pid-an-earlier-run"),
    ],
)
def test_a_lease_of_a_process_of_this_machine_that_is_gone_is_freed(tg, alice, alice_api, token):
    chat, message = held_by(alice, token())

    assert delivery.release_dead_leases() == 1

    assert Destination.objects.get(pk=chat.pk).lease_token == ""
    run_sweep()
    assert get_message(alice_api, message.pk)["status"] == "sent"


def test_a_live_process_holding_a_lease_is_left_alone(tg, alice, alice_api):
    # With the default action for every signal, whatever its parent ignores: one would end it.
    holder = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    try:
        _, message = held_by(alice, f"{delivery._HOST}:{holder.pid}:aaaaaa:bbbbbb")

        assert delivery.release_dead_leases() == 0
        run_sweep()

        assert get_message(alice_api, message.pk)["status"] == "queued"
        # Asking whether it is alive sent it nothing.
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()


def test_every_freed_lease_is_counted(tg, alice, bob):
    gone = dead_pid()
    for user, chat_id in ((alice, ALICE_CHAT), (bob, BOB_CHAT)):
        chat = link(user, chat_id)
        expires = timezone.now() + timedelta(minutes=5)
        Destination.objects.filter(pk=chat.pk).update(
            lease_token=f"{delivery._HOST}:{gone}:aaaaaa:{chat_id}", lease_expires_at=expires
        )

    assert delivery.release_dead_leases() == 2
    assert list(Destination.objects.values_list("lease_token", flat=True)) == ["", ""]


def test_a_lease_claimed_anew_while_the_sweep_looked_at_the_old_one_is_kept(tg, alice, monkeypatch):
    chat, _ = held_by(alice, f"{delivery._HOST}:{dead_pid()}:aaaaaa:bbbbbb")
    holder_alive = delivery._holder_alive

    def claimed_meanwhile(token):
        # The old lease's holder is gone, and a live worker has just claimed the chat.
        Destination.objects.filter(pk=chat.pk).update(lease_token="new-holder")
        return holder_alive(token)

    monkeypatch.setattr(delivery, "_holder_alive", claimed_meanwhile)

    assert delivery.release_dead_leases() == 0
    assert Destination.objects.get(pk=chat.pk).lease_token == "new-holder"


def test_a_message_whose_chat_is_gone_is_failed_and_counted_by_the_sweep(tg, alice, alice_api, client):
    long_ago = timezone.now() - timedelta(days=1)
    message = Message.objects.create(user=alice, destination=None, text="Hello", updated_at=long_ago)
    failed_before = failed_total(client)

    run_sweep()

    assert stored(message.pk).status == Message.Status.FAILED
    assert stored(message.pk).updated_at > long_ago
    assert failed_total(client) == failed_before + 1


def test_an_expired_lease_is_not_counted_as_taken_over(tg, alice):
    chat, _ = held_by(alice, f"{delivery._HOST}:{dead_pid()}:aaaaaa:bbbbbb", for_seconds=-1)

    assert delivery.release_dead_leases() == 0


# -- which chats the sweep dispatches ----------------------------------------------------


def test_the_sweep_dispatches_exactly_the_chats_whose_turn_it_is(db, monkeypatch):
    now = timezone.now().replace(microsecond=0)
    earlier, later = now - timedelta(seconds=1), now + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: now)

    def chat_with(name: str, chat_id: int, statuses=("queued",), next_attempt_at=earlier, **chat_fields) -> int:
        user = make_user(name, name.title())
        chat = link(user, chat_id)
        Destination.objects.filter(pk=chat.pk).update(**chat_fields)
        for status in statuses:
            queue(user, chat, status=status, next_attempt_at=next_attempt_at)
        return chat.pk

    due = {
        chat_with("free", 10),
        chat_with("twice", 11, statuses=("queued", "queued")),
        chat_with("expired", 12, lease_token="gone", lease_expires_at=earlier),
        chat_with("turncome", 13, next_turn_at=now),
        chat_with("turnpast", 14, next_turn_at=earlier),
        chat_with("duenow", 15, next_attempt_at=now),
    }
    not_due = [
        chat_with("leased", 20, lease_token="busy", lease_expires_at=later),
        chat_with("leaseends", 21, lease_token="busy", lease_expires_at=now),
        chat_with("turnlater", 22, next_turn_at=later),
        chat_with("notyet", 23, next_attempt_at=later),
        chat_with("done", 24, statuses=("sent", "failed")),
        chat_with("empty", 25, statuses=()),
    ]

    dispatched = delivery.dispatch_due()

    assert sorted(dispatched) == sorted(due)
    assert not set(dispatched) & set(not_due)
