import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from relay.models import Message
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
