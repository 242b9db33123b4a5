import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from ops import metrics
from relay import selectors, throttling
from relay.models import Message
from relay.splitting import format_header
from relay.tasks import deliver_chat_task
from relay.throttling import QuotaExceeded
from relaybot.models import Chat

logger = logging.getLogger(__name__)

BOOKED_TURN_MARGIN = timedelta(milliseconds=250)


class ChatNotLinked(Exception):
    """The account has no Telegram chat to deliver to."""


class ChatUnreachable(Exception):
    """Telegram said the account's chat cannot be reached; linking again clears it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def enqueue_message(*, user: User, text: str, idempotency_key: str = "") -> Message:
    """Store the message, then hand it to the delivery queue once committed.

    The row is committed before anything is sent, and the periodic sweep
    finds it even if the queue loses the task. With an idempotency key
    already used in the last day, the first message is returned instead.
    Raises ChatNotLinked, ChatUnreachable, or QuotaExceeded when the account
    has used its quota for the minute.
    """
    text = normalize_line_breaks(text)
    if idempotency_key and (earlier := selectors.message_for_idempotency_key(user=user, key=idempotency_key)):
        return earlier
    try:
        # Loaded with the user by authentication when it can be (accounts/authentication.py).
        chat = user.telegram_chat
    except Chat.DoesNotExist:
        raise ChatNotLinked from None
    if chat.unreachable_reason:
        raise ChatUnreachable(chat.unreachable_reason)
    try:
        with transaction.atomic():
            now = throttling.take_place(user_id=user.pk)
            if idempotency_key:
                # A key older than its day may be used again.
                Message.objects.filter(
                    user=user, idempotency_key=idempotency_key, created_at__lt=selectors.idempotency_cutoff()
                ).update(idempotency_key="")
            message = Message.objects.create(
                user=user,
                chat=chat,
                header=format_header(user.name),
                text=text,
                created_at=now,
                updated_at=now,
                next_attempt_at=now,
                idempotency_key=idempotency_key,
            )
            transaction.on_commit(lambda: _dispatch_unless_booked(chat))
            transaction.on_commit(metrics.message_accepted)
    except QuotaExceeded:
        # A request with the same key that committed while this one waited made nothing new to count.
        if idempotency_key and (earlier := selectors.message_for_idempotency_key(user=user, key=idempotency_key)):
            return earlier
        raise
    except IntegrityError:
        # Either the same key committed by a concurrent request (the unique
        # constraint), or the chat unlinked since authentication loaded it
        # (its foreign key, checked at commit): told apart by what is stored now.
        if idempotency_key and (earlier := selectors.message_for_idempotency_key(user=user, key=idempotency_key)):
            return earlier
        if not Chat.objects.filter(pk=chat.pk).exists():
            raise ChatNotLinked from None
        raise
    return message


def normalize_line_breaks(text: str) -> str:
    """Every line break as "\\n": a browser's form sends "\\r\\n", an old Mac's "\\r"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _dispatch_unless_booked(chat: Chat) -> None:
    # A chat waiting for its next turn (one message a second, a 429's pause)
    # has a task booked for that moment, which sends whatever is due then,
    # oldest first; asked after the commit, so that task is sure to see this
    # row. The margin allows for clocks a little apart between machines.
    if chat.next_turn_at is not None and chat.next_turn_at > timezone.now() + BOOKED_TURN_MARGIN:
        return
    dispatch_chat(chat_pk=chat.pk)


def dispatch_chat(*, chat_pk: int) -> None:
    """Ask a worker to deliver what is due for one chat."""
    try:
        deliver_chat_task(chat_pk)
    except Exception:
        # The message is already stored; the sweep will dispatch it.
        logger.exception("could not enqueue delivery for chat %s; the sweep will retry", chat_pk)
