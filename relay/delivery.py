"""Sending queued messages to Telegram, one destination at a time, oldest first.

A worker claims a destination with a conditional UPDATE (a lease), sends its
due messages in order, and records every outcome on the message row before
moving on. What cannot be sent now gets a time to try again. A destination
with bundling on has what waits for its turn sent as one Telegram message.
Edits and deletions of sent messages (revisions) take their place in the
same order: after the messages accepted before them, before those after.

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

from events import services as events
from ops import metrics
from relay import destinations, pacing
from relay.content import reply_markup, shift_entities, text_parts
from relay.models import AnswerablePart, Attachment, Destination, Message, Revision
from relay.revisions import edited_parts, sent_parts
from relay.splitting import TELEGRAM_TEXT_LIMIT, utf16_len
from relaybot.client import TelegramError, get_bot

logger = logging.getLogger(__name__)

# How many sends one destination may make in one turn when nothing spaces them.
SENDS_PER_TURN = 10
# Bundled messages are separated by a blank line.
BUNDLE_SEPARATOR = "\n\n"
# The most queued messages one bundle looks at: Telegram's 4,096 characters
# hold fewer than this many of the shortest.
BUNDLE_SCAN = 200
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
    """The destination's lease is no longer this worker's: another may be delivering its messages."""


@dataclass
class Lease:
    """This worker's hold on one destination."""

    destination_pk: int
    token: str
    # time.monotonic() until which the lease surely holds: counted from
    # before the UPDATE that set it, however long that UPDATE waited.
    holds_until: float

    def remaining(self) -> float:
        return self.holds_until - time.monotonic()


def deliver_destination(destination_pk: int) -> datetime | None:
    """Deliver what is due for one destination; returns when to look at it again, if ever.

    Returns None when nothing is left to do here, when another worker
    holds the destination (it will see our messages before it lets go), or
    when a task is already scheduled to look at it by then.
    """
    while True:
        lease = _claim(destination_pk)
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
            if not _turn_has_come(destination_pk):
                return None
            continue
        # A message accepted while we held the destination had its own
        # dispatch turned away by our lease: look once more after letting go.
        if not _has_due(destination_pk):
            return None


def release_dead_leases() -> int:
    """Free the destinations held by delivery processes of this machine that are gone; returns how many."""
    held = Destination.objects.filter(lease_token__startswith=f"{_HOST}:", lease_expires_at__gt=timezone.now())
    freed = 0
    for destination_pk, token in held.values_list("pk", "lease_token"):
        if not _holder_alive(token):
            freed += Destination.objects.filter(pk=destination_pk, lease_token=token).update(
                lease_token="", lease_expires_at=None
            )
    if freed:
        logger.info("took over %s destination(s) from a delivery process that is gone", freed, extra={"chats": freed})
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
    """Destinations with due messages, no live lease and no turn to come: the sweep's work list.

    A message whose destination is gone was failed when it was removed; one
    that slipped in between is failed here rather than left queued forever.
    """
    destinations.fail_orphans()
    now = timezone.now()
    free = Destination.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now),
        Q(next_turn_at__isnull=True) | Q(next_turn_at__lte=now),
    )
    with_messages = free.filter(
        Q(message__deliver_at__isnull=True) | Q(message__deliver_at__lte=now),
        message__status=Message.Status.QUEUED,
        message__next_attempt_at__lte=now,
    )
    with_revisions = free.filter(revisions__status=Revision.Status.PENDING, revisions__next_attempt_at__lte=now)
    due = set(with_messages.values_list("pk", flat=True).distinct())
    due.update(with_revisions.values_list("pk", flat=True).distinct())
    return sorted(due)


# Who holds a lease: this machine, this process (its pid, and a mark of
# this run of it, as a restarted process may get the same pid) and this
# turn. A worker restarted on the same machine can then take over at once
# the destinations a killed one held, rather than wait for the leases to expire.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_RUN = secrets.token_hex(3)


def _claim(destination_pk: int) -> Lease | None:
    started = time.monotonic()
    now = timezone.now()
    token = f"{_HOST}:{os.getpid()}:{_RUN}:{secrets.token_hex(3)}"
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    claimed = Destination.objects.filter(free, pk=destination_pk).update(
        lease_token=token, lease_expires_at=now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    )
    return Lease(destination_pk, token, started + settings.DELIVERY_LEASE_SECONDS) if claimed == 1 else None


def _renew(lease: Lease) -> bool:
    started = time.monotonic()
    expires = timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    held = Destination.objects.filter(pk=lease.destination_pk, lease_token=lease.token)
    if held.update(lease_expires_at=expires) != 1:
        return False
    lease.holds_until = started + settings.DELIVERY_LEASE_SECONDS
    return True


def _release(lease: Lease) -> None:
    Destination.objects.filter(pk=lease.destination_pk, lease_token=lease.token).update(
        lease_token="", lease_expires_at=None
    )


@contextmanager
def _holding(lease: Lease) -> Iterator[None]:
    """A transaction that records an outcome only while the lease is still this worker's.

    The destination's row stays locked until the transaction commits, so no
    other worker can claim it, and no unlink can delete it, between the
    check and the writes; on SQLite the IMMEDIATE transaction holds the
    database's write lock, which does the same. Raises LeaseLost.
    """
    with transaction.atomic():
        held = Destination.objects.select_for_update(no_key=True).filter(
            pk=lease.destination_pk, lease_token=lease.token
        )
        if not held.exists():
            raise LeaseLost
        yield


def hold_destination(destination_pk: int, *, wait: float) -> bool:
    """Take a destination from delivery for good, as it is about to be deleted, once a send under way has ended.

    Waits up to `wait` seconds for the lease; False if its holder kept it that long.
    """
    deadline = time.monotonic() + wait
    while _claim(destination_pk) is None:
        if not Destination.objects.filter(pk=destination_pk).exists():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def borrowed(destination_pk: int, *, wait: float) -> Iterator[bool]:
    """Hold a destination's lease for a moment, so no send to it is under way; yields False if none came in `wait`.

    What a worker turned away meanwhile is dispatched again once it is released.
    """
    deadline = time.monotonic() + wait
    lease = _claim(destination_pk)
    while lease is None and time.monotonic() < deadline:
        time.sleep(0.05)
        lease = _claim(destination_pk)
    try:
        yield lease is not None
    finally:
        if lease is not None:
            _release(lease)
            from relay.tasks import deliver_destination_task

            transaction.on_commit(lambda: deliver_destination_task(destination_pk), robust=True)


def _book_turn(lease: Lease, at: datetime) -> bool:
    """Note that a task will look at the destination at `at`; False if one already will by then.

    Every accepted message enqueues a task for its destination, and one that
    must wait would otherwise have each of them scheduled again for the same
    moment, to find nothing to do but schedule again: the worker's time
    would go to those rather than to sending. A booked turn that is lost
    (a killed worker) only holds until its time passes.
    """
    now = timezone.now()
    return (
        Destination.objects.filter(Q(next_turn_at__isnull=True) | Q(next_turn_at__lte=now) | Q(next_turn_at__gt=at))
        .filter(pk=lease.destination_pk, lease_token=lease.token)
        .update(next_turn_at=at)
        == 1
    )


def _turn_has_come(destination_pk: int) -> bool:
    return Destination.objects.filter(pk=destination_pk, next_turn_at__lte=timezone.now()).exists()


def _has_due(destination_pk: int) -> bool:
    now = timezone.now()
    return (
        Message.objects.filter(destination_id=destination_pk, status=Message.Status.QUEUED, next_attempt_at__lte=now)
        # As _deliver_claimed picks them: a message scheduled for later is not due, whatever its next attempt.
        .filter(Q(deliver_at__isnull=True) | Q(deliver_at__lte=now))
        .exists()
        or Revision.objects.filter(
            destination_id=destination_pk, status=Revision.Status.PENDING, next_attempt_at__lte=now
        ).exists()
    )


def _deliver_claimed(lease: Lease) -> datetime | None:
    sends = 0
    while True:
        now = timezone.now()
        message = (
            Message.objects.select_related("destination", "attachment")
            .filter(destination_id=lease.destination_pk, status=Message.Status.QUEUED)
            # A scheduled message holds back none of those behind it.
            .filter(Q(deliver_at__isnull=True) | Q(deliver_at__lte=now))
            .order_by("id")
            .first()
        )
        revision = (
            Revision.objects.select_related("destination", "message")
            .filter(destination_id=lease.destination_pk, status=Revision.Status.PENDING)
            .order_by("id")
            .first()
        )
        # A revision goes once the messages accepted before it have, and before those after it.
        if revision is not None and (message is None or message.pk > revision.after_message_id):
            message = None
        else:
            revision = None
        if message is None and revision is None:
            return None
        current = revision or message
        # Oldest first, always: a later message waits while an earlier one
        # waits for its retry, so the chat sees them in accepted order.
        if current.next_attempt_at > timezone.now():
            return current.next_attempt_at
        wait_until = pacing.chat_ready_at(current.destination) or pacing.bot_paused_until()
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
        if revision is not None:
            try:
                retry_at = _revise(revision, lease)
            except LeaseLost:
                logger.warning(
                    "revision %s: the destination's lease was lost during the call", revision.pk,
                    extra={"message_id": revision.message_id, "chat": revision.destination.chat_id,
                           "outcome": "lease_lost"},
                )  # fmt: skip
                return None
            sends += 1
            if retry_at is not None:
                return retry_at
            continue
        bundle = _bundle(message) if message.destination.bundle else [message]
        try:
            retry_at = _attempt(message, lease) if len(bundle) == 1 else _send_bundle(bundle, lease)
        except LeaseLost:
            logger.warning(
                "message %s: the destination's lease was lost during the send; its new holder goes on", message.pk,
                extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "lease_lost"},
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
            extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "error"},
        )  # fmt: skip
        # The class only: an exception's text may quote anything, and the reason is shown to the user.
        return _failed_attempt(message, lease, type(error).__name__)


def _send_next_part(message: Message, lease: Lease) -> datetime | None:
    """Send the next part of one message (a text part, or its file last); returns a retry time if it must wait."""
    destination = message.destination
    # The header and content were fixed when the message was accepted, so the
    # parts are the same at every attempt, and parts_sent counts into them.
    parts = text_parts(header=message.header, shown=message.rendered or message.text, entities=message.entities)
    attachment = _attachment(message)
    total = len(parts) + (attachment is not None)
    last = message.parts_sent == total - 1
    markup = reply_markup(message.pk, message.buttons) if message.buttons and last else None
    if message.parts_sent < len(parts):
        part, entities = parts[message.parts_sent]
    else:
        part, entities = None, []
    # Telegram refuses a blank text ("message text is empty") and would show
    # none: a part cut from a long blank run is passed over.
    if part is None or part.strip():
        try:
            if part is None:
                result = get_bot().send_file(
                    destination.chat_id,
                    photo=attachment.is_photo,
                    name=attachment.name,
                    content_type=attachment.content_type,
                    data=bytes(attachment.data),
                    thread_id=destination.thread_id,
                    silent=message.silent,
                    reply_markup=markup,
                )
            else:
                result = get_bot().send_message(
                    destination.chat_id,
                    part,
                    thread_id=destination.thread_id,
                    silent=message.silent,
                    entities=entities,
                    reply_markup=markup,
                )
        except TelegramError as error:
            return _handle_error(message, lease, error)
        _record_sent(destination)
        message.telegram_message_ids = [*message.telegram_message_ids, result.get("message_id")]
    message.parts_sent += 1
    message.updated_at = timezone.now()
    if message.parts_sent == total:
        message.status = Message.Status.SENT
        message.sent_at = message.updated_at
        message.error = ""
    with _holding(lease):
        message.save(update_fields=["telegram_message_ids", "parts_sent", "status", "sent_at", "error", "updated_at"])
        if _is_question(message) and message.telegram_message_ids:
            # A press on, or a reply to, this Telegram message answers the question.
            AnswerablePart.objects.get_or_create(
                chat_id=destination.chat_id,
                telegram_message_id=message.telegram_message_ids[-1],
                defaults={"message": message},
            )
        if message.status == Message.Status.SENT and attachment is not None:
            # Sent: the file is Telegram's to keep now, not ours.
            Attachment.objects.filter(message=message).delete()
        if message.status == Message.Status.SENT:
            events.emit_message(message=message, event_type=events.EventType.MESSAGE_SENT)
    if message.status == Message.Status.SENT:
        metrics.message_sent((message.sent_at - message.created_at).total_seconds())
        logger.info(
            "message %s sent in %s part(s) after %s failed attempt(s)",
            message.pk, total, message.attempts,
            extra={"message_id": message.pk, "chat": destination.chat_id, "outcome": "sent", "parts": total},
        )  # fmt: skip
    return None


def _is_question(message: Message) -> bool:
    return message.accept_reply or any("answer" in button for row in message.buttons for button in row)


def _attachment(message: Message) -> Attachment | None:
    try:
        return message.attachment
    except Attachment.DoesNotExist:
        return None


def _handle_error(message: Message, lease: Lease, error: TelegramError) -> datetime | None:
    now = timezone.now()
    destination = message.destination
    if error.migrate_to_chat_id and error.migrate_to_chat_id != destination.chat_id:
        # The group became a supergroup: every destination in it moves, with
        # its queue in order, and this message is sent again to the new id.
        old_chat_id = destination.chat_id
        with _holding(lease):
            destinations.migrate_chat(old_chat_id=old_chat_id, new_chat_id=error.migrate_to_chat_id)
        logger.info(
            "message %s: chat %s moved to %s, resending", message.pk, old_chat_id, error.migrate_to_chat_id,
            extra={"message_id": message.pk, "chat": error.migrate_to_chat_id, "outcome": "migrated"},
        )  # fmt: skip
        return None
    if error.error_code == 429:
        # Telegram pacing us: wait exactly as long as it says; not a failure.
        until = now + timedelta(seconds=max(int(error.retry_after or 1), 1))
        pacing.pause_chat(message.destination, until)
        if pacing.is_global_flood(message.destination):
            pacing.pause_bot(until)
        metrics.telegram_rate_limited()
        logger.info(
            "message %s: Telegram asked to wait until %s", message.pk, until,
            extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "rate_limited"},
        )  # fmt: skip
        return _retry_later(message, lease, until, str(error), count_attempt=False)
    if error.chat_unreachable:
        logger.warning(
            "message %s failed: chat unreachable (%s)", message.pk, error.description,
            extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "chat_unreachable"},
        )  # fmt: skip
        _fail_destination(lease, destination, error.description)
        return None
    if not error.is_transient:
        logger.warning(
            "message %s failed: %s", message.pk, error,
            extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "refused"},
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
            extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "gave_up"},
        )  # fmt: skip
        _fail(message, lease, f"Gave up after {attempts} attempts: {reason}", attempts=attempts)
        return None
    retry_at = timezone.now() + timedelta(seconds=backoff_seconds(attempts))
    logger.info(
        "message %s: attempt %s failed (%s), retrying at %s", message.pk, attempts, reason, retry_at,
        extra={"message_id": message.pk, "chat": message.destination.chat_id, "outcome": "retry"},
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
        Attachment.objects.filter(message=message).delete()
        events.emit_message(message=message, event_type=events.EventType.MESSAGE_FAILED)
    metrics.message_failed()


def _fail_destination(lease: Lease, destination: Destination, description: str) -> None:
    # The chat (or topic) is gone for the bot: this message and every one
    # queued behind it fail with the same reason, and no new one is accepted.
    with _holding(lease):
        destinations.mark_unreachable(destination=destination, reason=description)


def _record_sent(destination: Destination) -> None:
    pacing.record_sent(destination)
    if destination.unreachable_reason:
        destinations.mark_reachable(destination=destination)


def _bundle(first: Message) -> list[Message]:
    """`first` and the due messages queued right behind it that fit with it in one Telegram message.

    Only whole messages are bundled, in order, up to the first that does not
    fit: one cut into parts, partly sent, with buttons or a file, goes alone.
    """
    if not _bundleable(first) or utf16_len(_shown(first)) > TELEGRAM_TEXT_LIMIT:
        return [first]
    bundle, length = [first], utf16_len(_shown(first))
    now = timezone.now()
    following = (
        Message.objects.filter(destination_id=first.destination_id, status=Message.Status.QUEUED, pk__gt=first.pk)
        .filter(Q(deliver_at__isnull=True) | Q(deliver_at__lte=now))
        .select_related("attachment")
        .order_by("id")[:BUNDLE_SCAN]
    )
    for message in following:
        length += utf16_len(BUNDLE_SEPARATOR + _shown(message))
        if not _bundleable(message) or message.next_attempt_at > now or length > TELEGRAM_TEXT_LIMIT:
            break
        message.destination = first.destination
        bundle.append(message)
    return bundle


def _shown(message: Message) -> str:
    return message.header + (message.rendered or message.text)


def _bundleable(message: Message) -> bool:
    return (
        not message.parts_sent
        and not message.buttons
        and not message.accept_reply
        and _attachment(message) is None
        and bool(_shown(message).strip())
    )


def _send_bundle(bundle: list[Message], lease: Lease) -> datetime | None:
    """Send several whole messages as one Telegram message; each row records that message.

    A refusal or a failure is the first message's, as if it had gone alone:
    the others stay queued behind it, in order.
    """
    first = bundle[0]
    text, entities = "", []
    for message in bundle:
        if text:
            text += BUNDLE_SEPARATOR
        entities += shift_entities(message.entities, utf16_len(text))
        text += _shown(message)
    try:
        result = get_bot().send_message(
            first.destination.chat_id,
            text,
            entities=entities,
            thread_id=first.destination.thread_id,
            # A bundle rings unless every message in it was to be silent.
            silent=all(message.silent for message in bundle),
        )
    except TelegramError as error:
        return _handle_error(first, lease, error)
    _record_sent(first.destination)
    now = timezone.now()
    with _holding(lease):
        Message.objects.filter(pk__in=[message.pk for message in bundle], status=Message.Status.QUEUED).update(
            status=Message.Status.SENT,
            parts_sent=1,
            telegram_message_ids=[result.get("message_id")],
            sent_at=now,
            error="",
            updated_at=now,
        )
        sent = Message.objects.filter(pk__in=[message.pk for message in bundle], sent_at=now)
        events.emit_messages(messages=sent, event_type=events.EventType.MESSAGE_SENT)
    for message in bundle:
        metrics.message_sent((now - message.created_at).total_seconds())
    logger.info(
        "messages %s to %s sent as one", [message.pk for message in bundle], first.destination.chat_id,
        extra={"message_id": first.pk, "chat": first.destination.chat_id, "outcome": "sent", "bundled": len(bundle)},
    )  # fmt: skip
    return None


# -- revisions: edits and deletions of sent messages ---------------------------------

CANT_DELETE_REASON = "Telegram: message can't be deleted (older than 48 hours)"
EDIT_NOT_FOUND_REASON = "Telegram: message to edit not found (it was deleted from the chat)"


def _revise(revision: Revision, lease: Lease) -> datetime | None:
    """Make the revision's next Telegram call and record the outcome; returns a retry time if it must wait."""
    try:
        return _revise_next_part(revision, lease)
    except LeaseLost:
        raise
    except Exception as error:
        logger.exception(
            "revision %s: unexpected %s while carrying it out", revision.pk, type(error).__name__,
            extra={"message_id": revision.message_id, "chat": revision.destination.chat_id, "outcome": "error"},
        )  # fmt: skip
        return _revision_attempt_failed(revision, lease, type(error).__name__)


def _revise_next_part(revision: Revision, lease: Lease) -> datetime | None:
    """An edit replaces the text of each part and deletes the parts it no longer needs; a deletion deletes each."""
    message, destination = revision.message, revision.destination
    # The message keeps its content until the revision is done, so the
    # steps are the same at every attempt and parts_done counts into them.
    old = sent_parts(message)
    if revision.kind == Revision.Kind.EDIT:
        new = edited_parts(
            header=message.header, rendered=revision.rendered, text=revision.text, entities=revision.entities
        )
        if len(new) > len(old.text_ids):
            # An earlier edit left fewer parts than this one needs.
            _fail_revision(revision, lease, "The new text needs more Telegram messages than the message now has.")
            return None
        ids = old.text_ids
    else:
        new, ids = [], old.text_ids + old.file_ids
    step = revision.parts_done
    if step < len(ids):
        try:
            if step < len(new):
                part, entities = new[step]
                # The keyboard stays under the last part, unless a file carries it.
                last = step == len(new) - 1 and not old.file_ids
                markup = reply_markup(message.pk, message.buttons) if message.buttons and last else None
                get_bot().edit_message_text(
                    destination.chat_id, ids[step], part, entities=entities, reply_markup=markup
                )
            else:
                get_bot().delete_message(destination.chat_id, ids[step])
        except TelegramError as error:
            if not _already_so(error):
                return _handle_revision_error(revision, lease, error)
        else:
            _record_sent(destination)
        revision.parts_done = step + 1
    if revision.parts_done < len(ids):
        with _holding(lease):
            revision.save(update_fields=["parts_done"])
        return None
    now = timezone.now()
    revision.status, revision.done_at, revision.error = Revision.Status.DONE, now, ""
    message.error, message.updated_at = "", now
    if revision.kind == Revision.Kind.EDIT:
        message.text, message.rendered, message.entities = revision.text, revision.rendered, revision.entities
        message.telegram_message_ids = old.text_ids[: len(new)] + old.file_ids
        message.parts_sent = len(message.telegram_message_ids)
    else:
        message.status = Message.Status.DELETED
    with _holding(lease):
        revision.save(update_fields=["parts_done", "status", "done_at", "error"])
        message.save(
            update_fields=["text", "rendered", "entities", "telegram_message_ids", "parts_sent", "status", "error",
                           "updated_at"]
        )  # fmt: skip
        if revision.kind == Revision.Kind.EDIT and _is_question(message) and new and not old.file_ids:
            # The keyboard may now be under an earlier part: a press there answers too.
            AnswerablePart.objects.get_or_create(
                chat_id=destination.chat_id, telegram_message_id=ids[len(new) - 1], defaults={"message": message}
            )
    logger.info(
        "message %s: %s done in %s call(s)", message.pk, revision.kind, len(ids),
        extra={"message_id": message.pk, "chat": destination.chat_id, "outcome": revision.kind},
    )  # fmt: skip
    return None


def _already_so(error: TelegramError) -> bool:
    """Telegram says the part already is as asked: the same text, or deleted already."""
    description = error.description.lower()
    return error.error_code == 400 and any(
        words in description for words in ("message is not modified", "to delete not found")
    )


def _handle_revision_error(revision: Revision, lease: Lease, error: TelegramError) -> datetime | None:
    destination = revision.destination
    description = error.description.lower()
    if error.migrate_to_chat_id and error.migrate_to_chat_id != destination.chat_id:
        with _holding(lease):
            destinations.migrate_chat(old_chat_id=destination.chat_id, new_chat_id=error.migrate_to_chat_id)
        return None
    if error.error_code == 429:
        # Telegram pacing us: wait exactly as long as it says; not a failure.
        until = timezone.now() + timedelta(seconds=max(int(error.retry_after or 1), 1))
        pacing.pause_chat(destination, until)
        if pacing.is_global_flood(destination):
            pacing.pause_bot(until)
        metrics.telegram_rate_limited()
        return _revision_retry_later(revision, lease, until, str(error), count_attempt=False)
    if error.chat_unreachable:
        _fail_revision(revision, lease, f"Telegram: {error.description}")
        _fail_destination(lease, destination, error.description)
        return None
    if error.error_code == 400 and "can't be deleted" in description:
        _fail_revision(revision, lease, CANT_DELETE_REASON)
        return None
    if error.error_code == 400 and "to edit not found" in description:
        _fail_revision(revision, lease, EDIT_NOT_FOUND_REASON)
        return None
    if not error.is_transient:
        what = "edit" if revision.kind == Revision.Kind.EDIT else "deletion"
        _fail_revision(revision, lease, f"Telegram refused the {what}: {error.description}")
        return None
    return _revision_attempt_failed(revision, lease, str(error))


def _revision_attempt_failed(revision: Revision, lease: Lease, reason: str) -> datetime | None:
    """Count one failed attempt: try again after a backoff, or give up after DELIVERY_MAX_ATTEMPTS."""
    attempts = revision.attempts + 1
    if attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        revision.attempts = attempts
        _fail_revision(revision, lease, f"Gave up after {attempts} attempts: {reason}")
        return None
    retry_at = timezone.now() + timedelta(seconds=backoff_seconds(attempts))
    logger.info(
        "revision %s: attempt %s failed (%s), retrying at %s", revision.pk, attempts, reason, retry_at,
        extra={"message_id": revision.message_id, "chat": revision.destination.chat_id, "outcome": "retry"},
    )  # fmt: skip
    return _revision_retry_later(revision, lease, retry_at, reason, count_attempt=True)


def _revision_retry_later(
    revision: Revision, lease: Lease, retry_at: datetime, error: str, *, count_attempt: bool
) -> datetime:
    revision.next_attempt_at = retry_at
    revision.error = error[:500]
    if count_attempt:
        revision.attempts += 1
    with _holding(lease):
        revision.save(update_fields=["next_attempt_at", "error", "attempts", "parts_done"])
    return retry_at


def _fail_revision(revision: Revision, lease: Lease, reason: str) -> None:
    # The message stays as it is in the chat; its error says why the change did not happen.
    now = timezone.now()
    revision.status, revision.error, revision.done_at = Revision.Status.FAILED, reason[:500], now
    with _holding(lease):
        revision.save(update_fields=["status", "error", "done_at", "attempts", "parts_done"])
        Message.objects.filter(pk=revision.message_id).update(error=reason[:500], updated_at=now)
    logger.warning(
        "revision %s failed: %s", revision.pk, reason,
        extra={"message_id": revision.message_id, "chat": revision.destination.chat_id, "outcome": "refused"},
    )  # fmt: skip
