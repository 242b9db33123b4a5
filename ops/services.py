import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from relay.models import Message
from relay.services import dispatch_chat
from relaybot.models import ProcessedUpdate

logger = logging.getLogger(__name__)

# Telegram keeps an update for at most 24 hours, so an id older than this
# can no longer come back and need not be remembered.
PROCESSED_UPDATE_RETENTION = timedelta(days=2)


def prune_old_messages(*, now: datetime | None = None) -> int:
    """Delete sent messages older than MESSAGE_RETENTION_DAYS; returns how many.

    Queued and failed messages are kept whatever their age. Update ids the
    bot has handled are forgotten after two days, whether or not message
    retention is on.
    """
    now = now or timezone.now()
    updates, _ = ProcessedUpdate.objects.filter(received_at__lt=now - PROCESSED_UPDATE_RETENTION).delete()
    days = settings.MESSAGE_RETENTION_DAYS
    messages = 0
    if days > 0:
        _, deleted = Message.objects.filter(status=Message.Status.SENT, sent_at__lt=now - timedelta(days=days)).delete()
        messages = deleted.get(Message._meta.label, 0)
    logger.info(
        "pruned %s sent message(s) and %s processed update id(s)",
        messages,
        updates,
        extra={"deleted_messages": messages, "deleted_updates": updates, "retention_days": days},
    )
    return messages


@dataclass(frozen=True)
class RetryOutcome:
    retried: int
    unlinked: int
    already_sent: int


def retry_messages(*, message_ids: Iterable[int]) -> RetryOutcome:
    """Queue failed (or waiting) messages to be sent now, from scratch but for parts already delivered.

    A message whose chat was unlinked has nowhere to go and is left failed;
    a sent one is left alone.
    """
    ids = list(message_ids)
    now = timezone.now()
    chosen = Message.objects.filter(pk__in=ids)
    unlinked = chosen.filter(chat__isnull=True).exclude(status=Message.Status.SENT).count()
    already_sent = chosen.filter(status=Message.Status.SENT).count()
    retryable = chosen.filter(status__in=[Message.Status.FAILED, Message.Status.QUEUED], chat__isnull=False)
    with transaction.atomic():
        chat_pks = set(retryable.values_list("chat_id", flat=True))
        # parts_sent stays: a retry resumes after the last part Telegram accepted.
        retried = retryable.update(
            status=Message.Status.QUEUED, attempts=0, next_attempt_at=now, error="", updated_at=now
        )
        for chat_pk in sorted(chat_pks):
            transaction.on_commit(partial(dispatch_chat, chat_pk=chat_pk))
    logger.info("%s message(s) queued again by an operator", retried, extra={"message_ids": ids, "outcome": "retry"})
    return RetryOutcome(retried=retried, unlinked=unlinked, already_sent=already_sent)
