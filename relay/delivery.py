"""Sending queued messages to Telegram, one chat at a time, oldest first.

A worker claims a chat with a conditional UPDATE (a lease), sends that
chat's due messages in order, and records every outcome on the message row
before moving on. What cannot be sent now gets a time to try again.

Two rules keep a second worker from acting on the same message. A send
starts only while the lease is sure to last until the send has ended (or
timed out), renewing it first if need be; and an outcome is recorded only
in a transaction that finds the lease still this worker's and keeps the
chat's row locked until it commits. A worker that lost its lease records
nothing and stops.
"""

import hashlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ops import metrics
from relay import pacing
from relay.models import Message
from relay.splitting import split_text
from relaybot import services as telegram_services
from relaybot.client import TelegramError, get_bot
from relaybot.models import Chat

logger = logging.getLogger(__name__)

# How many sends one chat may make in one turn when nothing spaces them.
SENDS_PER_TURN = 10
# How long a send waits for a place under the global rate (relay/pacing.py).
SEND_SLOT_WAIT_SECONDS = 5.0
# What else a lease must allow for: clocks of two machines a little apart.
LEASE_MARGIN_SECONDS = 5.0


def longest_send_seconds() -> float:
    """The longest one send can take: the wait for a send slot, then the Bot API call.

    The client's timeout applies to each phase of a request (a connection
    from the pool, connecting, writing, reading), so a call that never
    fails outright can take four of them.
    """
    return SEND_SLOT_WAIT_SECONDS + 4 * settings.TELEGRAM_TIMEOUT_SECONDS


def shortest_lease_seconds() -> float:
    """The shortest DELIVERY_LEASE_SECONDS under which a send always ends before its lease (relay/checks.py)."""
    return longest_send_seconds() + LEASE_MARGIN_SECONDS


class LeaseLost(Exception):
    """The chat's lease is no longer this worker's: another may be delivering its messages."""


@dataclass
class Lease:
    """This worker's hold on one chat."""

    chat_pk: int
    token: str
    # time.monotonic() until which the lease surely holds: counted from
    # before the UPDATE that set it, however long that UPDATE waited.
    holds_until: float

    def remaining(self) -> float:
        return self.holds_until - time.monotonic()


def deliver_chat(chat_pk: int) -> datetime | None:
    """Deliver what is due for one chat; returns when to look at it again, if ever.

    Returns None when nothing is left to do here, when another worker
    holds the chat (it will see our messages before it lets go), or when a
    task is already scheduled to look at the chat by then.
    """
    while True:
        lease = _claim(chat_pk)
        if lease is None:
            return None
        try:
            retry_at = _deliver_claimed(lease)
            booked = retry_at is not None and _book_turn(lease, retry_at)
        finally:
            _release(lease)
        if booked:
            return retry_at
        if retry_at is not None:
            # Another task's turn is booked and will see what is left,
            # unless its time came while we held the chat: then it found
            # the chat taken and gave up, and the turn is ours.
            if not _turn_has_come(chat_pk):
                return None
            continue
        # A message accepted while we held the chat had its own dispatch
        # turned away by our lease: look once more after letting go.
        if not _has_due(chat_pk):
            return None


def release_dead_leases() -> int:
    """Free the chats held by delivery processes of this machine that are gone; returns how many."""
    held = Chat.objects.filter(lease_token__startswith=f"{_HOST}:", lease_expires_at__gt=timezone.now())
    freed = 0
    for chat_pk, token in held.values_list("pk", "lease_token"):
        if not _holder_alive(token):
            freed += Chat.objects.filter(pk=chat_pk, lease_token=token).update(lease_token="", lease_expires_at=None)
    if freed:
        logger.info("took over %s chat(s) from a delivery process that is gone", freed, extra={"chats": freed})
    return freed


def _holder_alive(token: str) -> bool:
    try:
        _, pid, run, _ = token.split(":")
        pid = int(pid)
    except ValueError:
        return True
    if pid == os.getpid():
        return run == _RUN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def dispatch_due() -> list[int]:
    """Chats with due messages, no live lease and no turn to come: the sweep's work list."""
    now = timezone.now()
    # A message whose chat is gone was failed when it was unlinked; one that
    # slipped in between is failed here rather than left queued forever.
    orphans = Message.objects.filter(status=Message.Status.QUEUED, chat__isnull=True).update(
        status=Message.Status.FAILED, error="Not delivered: the chat was unlinked.", updated_at=now
    )
    metrics.messages_failed(orphans)
    return list(
        Chat.objects.filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now),
            Q(next_turn_at__isnull=True) | Q(next_turn_at__lte=now),
            message__status=Message.Status.QUEUED,
            message__next_attempt_at__lte=now,
        )
        .values_list("pk", flat=True)
        .distinct()
    )


# Who holds a lease: this machine, this process (its pid, and a mark of
# this run of it, as a restarted process may get the same pid) and this
# turn. A worker restarted on the same machine can then take over at once
# the chats a killed one held, rather than wait for the leases to expire.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_RUN = secrets.token_hex(3)


def _claim(chat_pk: int) -> Lease | None:
    started = time.monotonic()
    now = timezone.now()
    token = f"{_HOST}:{os.getpid()}:{_RUN}:{secrets.token_hex(3)}"
    claimed = Chat.objects.filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now), pk=chat_pk).update(
        lease_token=token, lease_expires_at=now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    )
    return Lease(chat_pk, token, started + settings.DELIVERY_LEASE_SECONDS) if claimed == 1 else None


def _renew(lease: Lease) -> bool:
    started = time.monotonic()
    expires = timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    if Chat.objects.filter(pk=lease.chat_pk, lease_token=lease.token).update(lease_expires_at=expires) != 1:
        return False
    lease.holds_until = started + settings.DELIVERY_LEASE_SECONDS
    return True


def _release(lease: Lease) -> None:
    Chat.objects.filter(pk=lease.chat_pk, lease_token=lease.token).update(lease_token="", lease_expires_at=None)


@contextmanager
def _holding(lease: Lease) -> Iterator[None]:
    """A transaction that records an outcome only while the lease is still this worker's.

    The chat's row stays locked until the transaction commits, so no other
    worker can claim the chat, and no unlink can delete it, between the
    check and the writes; on SQLite the IMMEDIATE transaction holds the
    database's write lock, which does the same. Raises LeaseLost.
    """
    with transaction.atomic():
        held = Chat.objects.select_for_update(no_key=True).filter(pk=lease.chat_pk, lease_token=lease.token)
        if not held.exists():
            raise LeaseLost
        yield


def hold_chat(chat_pk: int, *, wait: float) -> bool:
    """Take the chat from delivery for good, as it is about to be deleted, once a send under way has ended.

    Waits up to `wait` seconds for the lease; False if its holder kept it that long.
    """
    deadline = time.monotonic() + wait
    while _claim(chat_pk) is None:
        if not Chat.objects.filter(pk=chat_pk).exists():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _book_turn(lease: Lease, at: datetime) -> bool:
    """Note that a task will look at the chat at `at`; False if one already will by then.

    Every accepted message enqueues a task for its chat, and a chat that
    must wait would otherwise have each of them scheduled again for the same
    moment, to find nothing to do but schedule again: the worker's time
    would go to those rather than to sending. A booked turn that is lost
    (a killed worker) only holds until its time passes.
    """
    now = timezone.now()
    return (
        Chat.objects.filter(Q(next_turn_at__isnull=True) | Q(next_turn_at__lte=now) | Q(next_turn_at__gt=at))
        .filter(pk=lease.chat_pk, lease_token=lease.token)
        .update(next_turn_at=at)
        == 1
    )


def _turn_has_come(chat_pk: int) -> bool:
    return Chat.objects.filter(pk=chat_pk, next_turn_at__lte=timezone.now()).exists()


def _has_due(chat_pk: int) -> bool:
    return Message.objects.filter(
        chat_id=chat_pk, status=Message.Status.QUEUED, next_attempt_at__lte=timezone.now()
    ).exists()


def _deliver_claimed(lease: Lease) -> datetime | None:
    sends = 0
    while True:
        message = (
            Message.objects.select_related("chat")
            .filter(chat_id=lease.chat_pk, status=Message.Status.QUEUED)
            .order_by("id")
            .first()
        )
        if message is None:
            return None
        # Oldest first, always: a later message waits while an earlier one
        # waits for its retry, so the chat sees them in accepted order.
        if message.next_attempt_at > timezone.now():
            return message.next_attempt_at
        wait_until = pacing.chat_ready_at(message.chat) or pacing.bot_paused_until()
        if wait_until is not None:
            return wait_until
        if sends >= SENDS_PER_TURN:
            # Back of the queue: every other chat with due messages gets a
            # turn before this one sends again.
            return timezone.now()
        # A send that outlasted the lease could be repeated by a worker that
        # took the chat over: the lease must last until this one has ended.
        # Renewed only then, as a renewal is a write.
        if lease.remaining() < shortest_lease_seconds() and not _renew(lease):
            return None
        if not pacing.acquire_send_slot(SEND_SLOT_WAIT_SECONDS):
            return timezone.now() + timedelta(seconds=1)
        try:
            retry_at = _attempt(message, lease)
        except LeaseLost:
            logger.warning(
                "message %s: the chat's lease was lost during the send; its new holder goes on", message.pk,
                extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "lease_lost"},
            )  # fmt: skip
            return None
        sends += 1
        if retry_at is not None:
            return retry_at


def _attempt(message: Message, lease: Lease) -> datetime | None:
    """Send the message's next part and record the outcome; returns a retry time if it must wait.

    An error nobody foresaw is a failed attempt like a Telegram error, so
    it is retried with backoff and fails the message in the end, and the
    messages behind it move on rather than wait behind it for ever.
    """
    try:
        return _send_next_part(message, lease)
    except LeaseLost:
        raise
    except Exception as error:
        logger.exception(
            "message %s: unexpected %s while delivering it", message.pk, type(error).__name__,
            extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "error"},
        )  # fmt: skip
        # The class only: an exception's text may quote anything, and the reason is shown to the user.
        return _failed_attempt(message, lease, type(error).__name__)


def _send_next_part(message: Message, lease: Lease) -> datetime | None:
    """Send the next part of one message; returns a retry time if it must wait."""
    chat = message.chat
    # The header was fixed when the message was accepted, so the parts are
    # the same at every attempt, and parts_sent counts into them.
    parts = split_text(message.header, message.text)
    part = parts[message.parts_sent]
    # Telegram refuses a blank text ("message text is empty") and would show
    # none: a part cut from a long blank run is passed over.
    if part.strip():
        try:
            result = get_bot().send_message(chat.chat_id, part)
        except TelegramError as error:
            return _handle_error(message, lease, error)
        pacing.record_sent(chat)
        if chat.unreachable_reason:
            telegram_services.mark_reachable(chat=chat)
        message.telegram_message_ids = [*message.telegram_message_ids, result.get("message_id")]
    message.parts_sent += 1
    message.updated_at = timezone.now()
    if message.parts_sent == len(parts):
        message.status = Message.Status.SENT
        message.sent_at = message.updated_at
        message.error = ""
    with _holding(lease):
        message.save(update_fields=["telegram_message_ids", "parts_sent", "status", "sent_at", "error", "updated_at"])
    if message.status == Message.Status.SENT:
        metrics.message_sent((message.sent_at - message.created_at).total_seconds())
        logger.info(
            "message %s sent in %s part(s) after %s failed attempt(s)",
            message.pk, len(parts), message.attempts,
            extra={"message_id": message.pk, "chat": chat.chat_id, "outcome": "sent", "parts": len(parts)},
        )  # fmt: skip
    return None


def _handle_error(message: Message, lease: Lease, error: TelegramError) -> datetime | None:
    now = timezone.now()
    if error.migrate_to_chat_id and error.migrate_to_chat_id != message.chat.chat_id:
        with _holding(lease):
            migrated = telegram_services.migrate_chat(chat=message.chat, new_chat_id=error.migrate_to_chat_id)
        if migrated:
            logger.info(
                "message %s: chat moved to a new id, resending", message.pk,
                extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "migrated"},
            )  # fmt: skip
            return None
        _fail_chat(lease, message.chat, "the chat moved to an id linked to another account")
        return None
    if error.error_code == 429:
        # Telegram pacing us: wait exactly as long as it says; not a failure.
        until = now + timedelta(seconds=max(int(error.retry_after or 1), 1))
        pacing.pause_chat(message.chat, until)
        if pacing.is_global_flood(message.chat):
            pacing.pause_bot(until)
        metrics.telegram_rate_limited()
        logger.info(
            "message %s: Telegram asked to wait until %s", message.pk, until,
            extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "rate_limited"},
        )  # fmt: skip
        return _retry_later(message, lease, until, str(error), count_attempt=False)
    if error.chat_unreachable:
        logger.warning(
            "message %s failed: chat unreachable (%s)", message.pk, error.description,
            extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "chat_unreachable"},
        )  # fmt: skip
        _fail_chat(lease, message.chat, error.description)
        return None
    if not error.is_transient:
        logger.warning(
            "message %s failed: %s", message.pk, error,
            extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "refused"},
        )  # fmt: skip
        _fail(message, lease, f"Telegram refused the message: {error.description}")
        return None
    return _failed_attempt(message, lease, str(error))


def _failed_attempt(message: Message, lease: Lease, reason: str) -> datetime | None:
    """Count one failed attempt: try again after a backoff, or give up after DELIVERY_MAX_ATTEMPTS."""
    attempts = message.attempts + 1
    if attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        logger.warning(
            "message %s failed after %s attempts: %s", message.pk, attempts, reason,
            extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "gave_up"},
        )  # fmt: skip
        _fail(message, lease, f"Gave up after {attempts} attempts: {reason}", attempts=attempts)
        return None
    retry_at = timezone.now() + timedelta(seconds=backoff_seconds(attempts))
    logger.info(
        "message %s: attempt %s failed (%s), retrying at %s", message.pk, attempts, reason, retry_at,
        extra={"message_id": message.pk, "chat": message.chat.chat_id, "outcome": "retry"},
    )  # fmt: skip
    _retry_later(message, lease, retry_at, reason, count_attempt=True)
    metrics.send_retried()
    return retry_at


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter over its upper half."""
    ceiling = min(settings.DELIVERY_BACKOFF_MAX_SECONDS, settings.DELIVERY_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


def _retry_later(message: Message, lease: Lease, retry_at: datetime, error: str, *, count_attempt: bool) -> datetime:
    message.next_attempt_at = retry_at
    message.error = error[:500]
    message.updated_at = timezone.now()
    if count_attempt:
        message.attempts += 1
    with _holding(lease):
        message.save(update_fields=["next_attempt_at", "error", "attempts", "updated_at"])
    return retry_at


def _fail(message: Message, lease: Lease, reason: str, *, attempts: int | None = None) -> None:
    message.status = Message.Status.FAILED
    message.error = reason[:500]
    message.updated_at = timezone.now()
    if attempts is not None:
        message.attempts = attempts
    with _holding(lease):
        message.save(update_fields=["status", "error", "attempts", "updated_at"])
    metrics.message_failed()


def _fail_chat(lease: Lease, chat: Chat, description: str) -> None:
    # The chat is gone for the bot: this message and every one queued
    # behind it fail with the same reason, and no new one is accepted.
    with _holding(lease):
        telegram_services.mark_unreachable(chat=chat, reason=description)
        failed = Message.objects.filter(chat=chat, status=Message.Status.QUEUED).update(
            status=Message.Status.FAILED, error=f"Telegram: {description}"[:500], updated_at=timezone.now()
        )
    metrics.messages_failed(failed)
