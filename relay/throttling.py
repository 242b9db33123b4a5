"""The per-account message quota: at most MESSAGES_PER_MINUTE accepted in any minute.

Counted from the messages table rather than a cache, so every web process
and machine agrees on the count without a shared cache. The count and the
INSERT it allows are one step: `take_place` is called inside the
transaction that stores the message, after the account's other
submissions have been made to wait (relay/services.py: enqueue_message).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from relay import selectors
from relay.models import Message

WINDOW = timedelta(minutes=1)
# The first key of PostgreSQL's two-key advisory locks taken here, so that
# they are told apart from any other advisory lock on the same account id.
QUOTA_LOCK_CLASS = 0x7271  # "rq": relay quota


class QuotaExceeded(Exception):
    """The account has used its quota for the minute; `retry_after` is when the next place frees up."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g} s")
        self.retry_after = retry_after


def take_place(*, user_id: int) -> datetime:
    """Inside a transaction: wait for the account's other submissions, then check its quota.

    Returns the moment the place was taken, the message's time of
    acceptance; raises QuotaExceeded when the account has no place left
    this minute. On PostgreSQL an advisory lock per account, held until the
    transaction ends, makes concurrent submissions of one account count one
    after the other; each count is a new statement, so it sees what the one
    before committed. On SQLite the IMMEDIATE transaction already holds the
    write lock (config/settings.py), which does the same for every writer.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Two int4 keys: an account id beyond them shares a lock with another, which only waits.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [QUOTA_LOCK_CLASS, user_id % 2**31])
    now = timezone.now()
    since = now - WINDOW
    limit = settings.MESSAGES_PER_MINUTE
    count = selectors.message_count_since(user_id=user_id, since=since)
    if count < limit:
        return now
    recent = Message.objects.filter(user_id=user_id, created_at__gt=since).order_by("created_at")
    # The quota frees up once enough of the recent messages age out.
    freeing = recent.values_list("created_at", flat=True)[count - limit : count - limit + 1]
    wait = (freeing[0] + WINDOW - now).total_seconds() if freeing else WINDOW.total_seconds()
    raise QuotaExceeded(max(wait, 1))
