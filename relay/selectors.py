import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from relay.models import Message
from relay.splitting import split_text


def messages_for_user(*, user: User) -> QuerySet[Message]:
    """The account's own messages, newest first."""
    return Message.objects.filter(user=user).order_by("-created_at", "-id")


def messages_before(*, user: User, message_id: int) -> QuerySet[Message]:
    """messages_for_user's list from just after the given message: the ones accepted before it, newest first.

    If that message is gone (retention deleted it, say), the list goes on
    from where it stood: after the account's newest message with a lower id,
    that one included. Keyset paging on the list's own order (time, then id),
    served by the (user, created_at, id) index at any depth.
    """
    messages = messages_for_user(user=user)
    anchor = (
        Message.objects.filter(user=user, pk__lte=message_id).order_by("-pk").values_list("created_at", flat=True)[:1]
    )
    anchor = next(iter(anchor), None)
    if anchor is None:
        return messages.none()
    return messages.filter(created_at__lte=anchor).exclude(created_at=anchor, pk__gte=message_id)


def message_for_user(*, user: User, message_id: int) -> Message | None:
    return Message.objects.filter(user=user, pk=message_id).first()


def find_messages_for_user(*, user: User, contains: str = "", status: str = "") -> QuerySet[Message]:
    """The account's messages, newest first, whose text contains `contains` in any letter case, in `status`."""
    messages = messages_for_user(user=user)
    if contains and contains.isascii():
        messages = messages.filter(text__icontains=contains)
    elif contains:
        # SQLite's LIKE folds the case of ASCII letters only; a regular expression
        # of the literal text (Python's re there, ~* on PostgreSQL) folds every letter.
        messages = messages.filter(text__iregex=re.escape(contains))
    if status:
        messages = messages.filter(status=status)
    return messages


@dataclass(frozen=True)
class MessagePart:
    number: int
    text: str
    # Telegram's id for the part once Telegram has accepted it, else None.
    telegram_message_id: int | None


def message_parts(*, message: Message) -> list[MessagePart]:
    """What the chat is sent for the message, part by part, as delivery splits it."""
    ids = message.telegram_message_ids or []
    return [
        MessagePart(
            number=number,
            text=text,
            telegram_message_id=ids[number - 1] if number <= min(message.parts_sent, len(ids)) else None,
        )
        for number, text in enumerate(split_text(message.header, message.text), start=1)
    ]


def idempotency_cutoff() -> datetime:
    return timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)


def message_for_idempotency_key(*, user: User, key: str) -> Message | None:
    """The message an earlier request with this key created, within the key's lifetime."""
    return Message.objects.filter(user=user, idempotency_key=key, created_at__gte=idempotency_cutoff()).first()


def messages_with_ids(*, user: User, ids: list[int]) -> QuerySet[Message]:
    """Those of the given messages that belong to the account, newest first."""
    return messages_for_user(user=user).filter(pk__in=ids)


def message_count_since(*, user_id: int, since: datetime) -> int:
    """How many messages the account submitted after `since`: the per-account quota's count."""
    # Asked for every message sent, so written out: built through the ORM,
    # the same COUNT costs about twenty times its running (docs/benchmarks.md).
    # The (user, created_at) index answers it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {Message._meta.db_table} WHERE user_id = %s AND created_at > %s",
            [user_id, connection.ops.adapt_datetimefield_value(since)],
        )
        return cursor.fetchone()[0]
