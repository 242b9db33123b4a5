"""Destinations change here: linked, refreshed, renamed, made default, marked (un)reachable, moved, removed.

The Telegram side (relaybot/) calls these when the bot learns something; the
API and the cabinet call them for what the account asks. Failing what is
queued for a destination happens in one function, `fail_queued`.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import User
from events import services as events
from ops import metrics
from relay.labels import LabelInvalid, check_label, label_from
from relay.models import Attachment, Destination, Message

logger = logging.getLogger(__name__)

# Telegram's own words where it has them, so the API's 409 reads alike however the relay learnt it.
BLOCKED_REASON = "Forbidden: bot was blocked by the user"
KICKED_REASON = "Forbidden: bot was kicked from the group chat"
LEFT_REASON = "Forbidden: bot is not a member of the group chat"
SUPERGROUP_KICKED_REASON = "Forbidden: bot was kicked from the supergroup chat"
SUPERGROUP_LEFT_REASON = "Forbidden: bot is not a member of the supergroup chat"
CHANNEL_KICKED_REASON = "Forbidden: bot was kicked from the channel chat"
CHANNEL_LEFT_REASON = "Forbidden: bot is not a member of the channel chat"
NO_POST_RIGHT_REASON = "Bad Request: need administrator rights in the channel chat"
TOPIC_CLOSED_REASON = "Bad Request: TOPIC_CLOSED"

# The private chat's label unless the account chose one.
PRIVATE_LABEL = "me"


@dataclass(frozen=True)
class ChatInfo:
    """A Telegram chat (or a topic in one) as an update describes it."""

    chat_id: int
    kind: str
    title: str = ""
    thread_id: int | None = None
    username: str = ""
    language_code: str = ""


class LabelTaken(Exception):
    """Another destination of the account has this label."""


def link(*, user: User, chat: ChatInfo, label: str = "") -> Destination:
    """Tie a chat (or topic) to the account as a destination; linking it again refreshes it.

    A private chat is one person's: it leaves any other account, and it
    replaces the account's earlier private chat, taking its label and
    settings. The account's first destination becomes its default.
    """
    with transaction.atomic():
        if chat.kind == Destination.Kind.PRIVATE:
            return _link_private(user=user, chat=chat, label=label)
        existing = (
            Destination.objects.select_for_update()
            .filter(user=user, chat_id=chat.chat_id, thread_id=chat.thread_id)
            .first()
        )
        if existing is not None:
            return _refresh(existing, chat)
        return _create(user=user, chat=chat, label=label or label_from(chat.title, chat.kind))


def _link_private(*, user: User, chat: ChatInfo, label: str) -> Destination:
    existing = Destination.objects.select_for_update().filter(kind=Destination.Kind.PRIVATE, chat_id=chat.chat_id)
    existing = existing.first()
    if existing is not None and existing.user_id == user.pk:
        return _refresh(existing, chat)
    if existing is not None:
        remove(destination=existing, reason="the chat was linked to another account")
    current = Destination.objects.filter(user=user, kind=Destination.Kind.PRIVATE).first()
    if current is None:
        return _create(user=user, chat=chat, label=label or PRIVATE_LABEL)
    remove(destination=current, reason="the account was linked to another chat")
    return _create(
        user=user,
        chat=chat,
        label=current.label,
        is_default=current.is_default,
        header=current.header,
        silent=current.silent,
        bundle=current.bundle,
    )


def _refresh(destination: Destination, chat: ChatInfo) -> Destination:
    destination.kind = chat.kind
    destination.title = chat.title
    destination.username = chat.username
    destination.language_code = chat.language_code or destination.language_code
    destination.unreachable_reason = ""
    destination.save(update_fields=["kind", "title", "username", "language_code", "unreachable_reason"])
    return destination


def _create(*, user: User, chat: ChatInfo, label: str, is_default: bool | None = None, **settings) -> Destination:
    if is_default is None:
        is_default = not Destination.objects.filter(user=user, is_default=True).exists()
    return Destination.objects.create(
        user=user,
        label=_free_label(user, label),
        kind=chat.kind,
        title=chat.title,
        chat_id=chat.chat_id,
        thread_id=chat.thread_id,
        username=chat.username,
        language_code=chat.language_code,
        is_default=is_default,
        **settings,
    )


def _free_label(user: User, wanted: str) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`... when the account already uses it."""
    try:
        base = check_label(wanted)
    except LabelInvalid:
        base = "chat"
    taken = {label.lower() for label in Destination.objects.filter(user=user).values_list("label", flat=True)}
    label, number = base, 1
    while label.lower() in taken:
        number += 1
        suffix = f"-{number}"
        label = base[: 64 - len(suffix)] + suffix
    return label


def update(
    *,
    destination: Destination,
    label: str | None = None,
    header: bool | None = None,
    silent: bool | None = None,
    bundle: bool | None = None,
    is_default: bool | None = None,
) -> Destination:
    """Change what the account may change; raises LabelInvalid or LabelTaken.

    Header and silence apply to messages accepted from now on: what a
    message says is fixed when it is accepted.
    """
    fields = []
    if label is not None and label != destination.label:
        destination.label = check_label(label)
        fields.append("label")
    for name, value in (("header", header), ("silent", silent), ("bundle", bundle)):
        if value is not None and value != getattr(destination, name):
            setattr(destination, name, value)
            fields.append(name)
    try:
        with transaction.atomic():
            if is_default and not destination.is_default:
                # The account's destinations locked first: two requests making
                # two defaults at once take turns instead of one failing.
                list(Destination.objects.select_for_update().filter(user_id=destination.user_id).values_list("pk"))
                Destination.objects.filter(user_id=destination.user_id, is_default=True).update(is_default=False)
                destination.is_default = True
                fields.append("is_default")
            elif is_default is False and destination.is_default:
                destination.is_default = False
                fields.append("is_default")
            if fields:
                destination.save(update_fields=fields)
    except IntegrityError:
        # The only unique value the account sets is the label.
        raise LabelTaken from None
    return destination


def remove(*, destination: Destination, reason: str) -> bool:
    """Remove a destination: what is queued for it fails, and API tokens limited to it stop working.

    False if it was gone already. The row is locked first, so a message
    being accepted for it, or a delivery worker recording an outcome,
    either commits before this goes on (and what it left queued fails here)
    or finds the destination gone (relay/services.py, relay/delivery.py).
    On SQLite the IMMEDIATE transaction already holds the write lock.
    """
    with transaction.atomic():
        if not Destination.objects.select_for_update().filter(pk=destination.pk).exists():
            return False
        fail_queued(Message.objects.filter(destination=destination), f"Not delivered: {reason}.")
        # A token that may send only here must not fall back to sending anywhere.
        AuthToken.objects.filter(label__destination=destination).delete()
        destination.delete()
        return True


def fail_queued(messages: QuerySet[Message], error: str) -> int:
    """Fail the queued ones among `messages` with `error`; the one way queued messages fail in bulk."""
    queued = messages.filter(status=Message.Status.QUEUED)
    # Files wait in the database only to be sent.
    Attachment.objects.filter(message__in=queued).delete()
    now = timezone.now()
    failed = queued.update(status=Message.Status.FAILED, error=error[:500], updated_at=now)
    if failed:
        failed_now = messages.filter(status=Message.Status.FAILED, updated_at=now)
        events.emit_messages(messages=failed_now, event_type=events.EventType.MESSAGE_FAILED)
    transaction.on_commit(lambda: metrics.messages_failed(failed))
    return failed


def mark_unreachable(*, destination: Destination, reason: str) -> None:
    """Telegram refused a send for good: new messages are refused, and what is queued fails."""
    with transaction.atomic():
        marked = Destination.objects.filter(pk=destination.pk).exclude(unreachable_reason=reason[:255])
        if marked.update(unreachable_reason=reason[:255]):
            events.emit_destinations_unreachable(destinations=[destination], reason=reason[:255])
        fail_queued(Message.objects.filter(destination=destination), f"Telegram: {reason}")
    destination.unreachable_reason = reason[:255]


def mark_reachable(*, destination: Destination) -> None:
    """Telegram took a message for it after all (an operator retried one): accept new ones again.

    Only the mark the caller saw is cleared: a block recorded since (the bot's
    my_chat_member update) is newer news than this send and stays.
    """
    Destination.objects.filter(pk=destination.pk, unreachable_reason=destination.unreachable_reason).update(
        unreachable_reason=""
    )
    destination.unreachable_reason = ""


def chat_unreachable(*, chat_id: int, reason: str, thread_id: int | None = None) -> int:
    """Telegram says the bot can no longer post in a chat (or one topic): every account's destination there.

    Takes effect at once for new messages; what is queued meets Telegram's
    refusal when its turn comes and fails then. Returns how many changed.
    """
    chosen = Destination.objects.filter(chat_id=chat_id)
    if thread_id is not None:
        chosen = chosen.filter(thread_id=thread_id)
    else:
        # A closed or deleted topic's mark outlasts the bot's membership, which chat_reachable clears.
        chosen = chosen.exclude(unreachable_reason__in=TOPIC_REASONS)
    marked = chosen.exclude(unreachable_reason=reason[:255])
    events.emit_destinations_unreachable(destinations=marked, reason=reason[:255])
    return marked.update(unreachable_reason=reason[:255])


def chat_reachable(*, chat_id: int, thread_id: int | None = None, keep: tuple[str, ...] = ()) -> int:
    """Telegram says the bot may post in the chat (or topic) again; returns how many destinations changed.

    Marks with a reason in `keep` stay: the bot joining a group again does
    not reopen a closed topic in it.
    """
    chosen = Destination.objects.filter(chat_id=chat_id).exclude(unreachable_reason="")
    if thread_id is not None:
        chosen = chosen.filter(thread_id=thread_id)
    if keep:
        chosen = chosen.exclude(unreachable_reason__in=keep)
    return chosen.update(unreachable_reason="")


# What a send to a closed or deleted topic answers: news about the topic, not about the bot's membership.
TOPIC_REASONS = (TOPIC_CLOSED_REASON, "Bad Request: message thread not found")


def migrate_chat(*, old_chat_id: int, new_chat_id: int) -> int:
    """Follow a group's upgrade to a supergroup: its destinations keep their queue, order and settings.

    An account that had linked the supergroup already keeps that
    destination, and the old one is removed with the reason. Returns how
    many destinations moved.
    """
    moved = 0
    with transaction.atomic():
        for destination in Destination.objects.select_for_update().filter(chat_id=old_chat_id):
            if (
                destination.kind == Destination.Kind.PRIVATE
                and Destination.objects.filter(kind=Destination.Kind.PRIVATE, chat_id=new_chat_id).exists()
            ):
                mark_unreachable(destination=destination, reason="the chat moved to an id linked to another account")
                continue
            clash = Destination.objects.filter(
                user_id=destination.user_id, chat_id=new_chat_id, thread_id=destination.thread_id
            ).exists()
            if clash:
                remove(destination=destination, reason="the group became a supergroup this account had linked")
                continue
            kind = Destination.Kind.SUPERGROUP if destination.kind == Destination.Kind.GROUP else destination.kind
            Destination.objects.filter(pk=destination.pk).update(chat_id=new_chat_id, kind=kind)
            moved += 1
    if moved:
        logger.info("chat %s moved to %s", old_chat_id, new_chat_id, extra={"chat": new_chat_id})
    return moved


def unlink_chat(*, chat_id: int, thread_id: int | None = None, reason: str = "the chat was unlinked") -> list[User]:
    """Remove every account's destination in a chat (or one topic of it): the chat's own /stop.

    Returns the accounts that lost one.
    """
    chosen = Destination.objects.select_related("user").filter(chat_id=chat_id)
    if thread_id is not None:
        chosen = chosen.filter(thread_id=thread_id)
    users = []
    with transaction.atomic():
        for destination in chosen:
            if remove(destination=destination, reason=reason):
                users.append(destination.user)
    return users


def fail_orphans() -> int:
    """Fail queued messages whose destination is gone: one that slipped in as it was removed."""
    return fail_queued(Message.objects.filter(destination__isnull=True), "Not delivered: the chat was unlinked.")
