from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from relay import search as search_index
from relay.content import text_parts
from relay.models import Destination, Message, Revision

# The largest id either database stores (a 64-bit integer).
MAX_ID = 2**63 - 1


def destinations_for_user(*, user: User) -> QuerySet[Destination]:
    """The account's destinations, the default first, then in the order they were linked."""
    return Destination.objects.filter(user=user).order_by("-is_default", "id")


def destination_for_user(*, user: User, destination_id: int) -> Destination | None:
    return Destination.objects.filter(user=user, pk=destination_id).first()


def destination_named(*, user: User, to: str | int) -> Destination | None:
    """The account's destination that `to` names: its label (any case), else its id."""
    if isinstance(to, int):
        return destination_for_user(user=user, destination_id=to)
    found = Destination.objects.filter(user=user, label__iexact=to).first()
    if found is None and to.isascii() and to.isdigit() and len(to) < 19:
        found = destination_for_user(user=user, destination_id=int(to))
    return found


# Where authentication leaves the default destination it read with the token (one query for both).
_DEFAULT_DESTINATION = "_default_destination"

# What accepting a message reads of the default destination, when
# authentication did not bring it (a session, a Gotify or hook secret).
_ACCEPT_FIELDS = (
    "id",
    "user",
    "kind",
    "chat_id",
    "thread_id",
    "unreachable_reason",
    "header",
    "silent",
    "next_turn_at",
)


@cache
def _default_destination_sql(vendor: str) -> str:
    # Written out once: the ORM builds a query afresh for every call, which
    # cost more CPU than the rest of authentication (docs/benchmarks.md).
    # raw() still applies each field's converters; the fields left out load
    # on first use.
    meta, quote = Destination._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _ACCEPT_FIELDS)
    user_id, is_default = (quote(meta.get_field(name).column) for name in ("user", "is_default"))
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {user_id} = %s AND {is_default} = %s LIMIT 1"


def remember_default_destination(user: User, destination: Destination | None) -> None:
    setattr(user, _DEFAULT_DESTINATION, destination)


def default_destination(*, user: User) -> Destination | None:
    """The account's default destination: as read with its token by authentication, else from the database."""
    if hasattr(user, _DEFAULT_DESTINATION):
        return getattr(user, _DEFAULT_DESTINATION)
    found = Destination.objects.raw(_default_destination_sql(connection.vendor), [user.pk, True])
    return next(iter(found), None)


def private_destination(*, user: User) -> Destination | None:
    """The account's private chat with the bot, if linked."""
    return Destination.objects.filter(user=user, kind=Destination.Kind.PRIVATE).first()


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


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    # Where the next page starts (below this id), or None on the last page.
    next_below: int | None


def message_page(
    *,
    user: User,
    size: int,
    below: int | None = None,
    status: str = "",
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    search: str = "",
    destination: Destination | None = None,
) -> MessagePage:
    """A page of the account's messages, newest first, those with an id below `below`, matching every filter given.

    Newest first is id order: an account's messages take their ids in the
    order they are accepted (relay/throttling.py serializes them). Keyset
    paging: each page is `id < below ... ORDER BY id DESC LIMIT size + 1`
    on an index ((user, -id), (user, status, -id), or the full-text one),
    so it costs the same at any depth and any history size; nothing counts
    the history. Messages that arrive meanwhile have higher ids, so paging
    on never repeats or skips one. `search`: every word of it, through the
    full-text index (relay/search.py).
    """
    messages = messages_for_user(user=user).order_by("-id")
    # The ids the page lies between (exclusive), for the index to start and stop at.
    above = None
    if status:
        messages = messages.filter(status=status)
    if destination is not None:
        messages = messages.filter(destination=destination)
    if created_after is not None:
        messages = messages.filter(created_at__gt=created_after)
        above = _last_id_before(user=user, moment=created_after, slack=CLOCK_SLACK) or 0
    if created_before is not None:
        messages = messages.filter(created_at__lt=created_before)
        later = _first_id_from(user=user, moment=created_before, slack=CLOCK_SLACK)
        # Bounded even when nothing is outside the range: SQLite then reads the id index, not the time one.
        below = min(below or MAX_ID, later or MAX_ID)
    if above is not None:
        messages = messages.filter(pk__gt=above)
    if below is not None:
        messages = messages.filter(pk__lt=below)
    if search.strip():
        rows = search_index.first_matching(
            messages, user=user, text=search, status=status, above=above, below=below, limit=size + 1
        )
    else:
        rows = list(messages[: size + 1])
    return MessagePage(messages=rows[:size], next_below=rows[size - 1].pk if len(rows) > size else None)


# A date range is also turned into a range of ids, found on the (user,
# created_at, id) index, so that the page is read on an id index like any
# other: filtered on the time index, a range of a million messages would be
# sorted by id for each page. An account's acceptance times follow its ids
# (the quota serializes its messages) but for a clock stepped back or two
# web machines' clocks apart, by less than CLOCK_SLACK: so every message
# after a moment has a higher id than any accepted CLOCK_SLACK before it, and
# the id range is bounded by those. It costs at most the messages of
# CLOCK_SLACK (a minute's quota) more to read.
CLOCK_SLACK = timedelta(minutes=1)


def _last_id_before(*, user: User, moment: datetime, slack: timedelta) -> int | None:
    """The id of the account's last message, in time order, accepted `slack` or more before `moment`."""
    if moment - datetime.min.replace(tzinfo=moment.tzinfo) < slack:
        return None
    found = Message.objects.filter(user=user, created_at__lte=moment - slack).order_by("-created_at", "-id")
    return next(iter(found.values_list("id", flat=True)[:1]), None)


def _first_id_from(*, user: User, moment: datetime, slack: timedelta) -> int | None:
    """The id of the account's first message, in time order, accepted `slack` or more after `moment`."""
    if datetime.max.replace(tzinfo=moment.tzinfo) - moment < slack:
        return None
    found = Message.objects.filter(user=user, created_at__gte=moment + slack).order_by("created_at", "id")
    return next(iter(found.values_list("id", flat=True)[:1]), None)


@dataclass(frozen=True)
class MessagePart:
    number: int
    text: str
    # Telegram's id for the part once Telegram has accepted it, else None.
    telegram_message_id: int | None


def pending_revisions(*, message: Message) -> list[Revision]:
    """The message's edits and deletion that Telegram has yet to carry out, oldest first."""
    return list(message.revisions.filter(status=Revision.Status.PENDING).order_by("pk"))


def message_parts(*, message: Message) -> list[MessagePart]:
    """What the chat is sent for the message, part by part, as delivery splits it."""
    ids = message.telegram_message_ids or []
    parts = text_parts(header=message.header, shown=message.rendered or message.text, entities=message.entities)
    return [
        MessagePart(
            number=number,
            text=text,
            telegram_message_id=ids[number - 1] if number <= min(message.parts_sent, len(ids)) else None,
        )
        for number, (text, _) in enumerate(parts, start=1)
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
