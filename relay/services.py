import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from ops import metrics
from relay import delivery, selectors, throttling
from relay.content import compose
from relay.drafts import FORMATS, LINK, MAX_ANSWER, MAX_BUTTON_TEXT, MAX_BUTTONS, MAX_KEYBOARD, MAX_TITLE_LENGTH, Draft
from relay.models import Attachment, Destination, Message
from relay.splitting import format_header
from relay.tasks import deliver_destination_task
from relay.throttling import QuotaExceeded

logger = logging.getLogger(__name__)

BOOKED_TURN_MARGIN = timedelta(milliseconds=250)


class ChatNotLinked(Exception):
    """The account has no default destination to deliver to."""


class ChatUnreachable(Exception):
    """Telegram said the destination cannot be reached; linking again clears it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DestinationNotFound(Exception):
    """`to` names none of the account's destinations."""


class DestinationNotAllowed(Exception):
    """The credential may send only to another destination."""


def enqueue_message(
    *,
    user: User,
    text: str,
    idempotency_key: str = "",
    to: str | int | None = None,
    only_destination_id: int | None = None,
) -> Message:
    """A plain text message: accept() with a draft of just the text."""
    return accept(
        user=user,
        draft=Draft(text=text),
        idempotency_key=idempotency_key,
        to=to,
        only_destination_id=only_destination_id,
    )


def accept(
    *,
    user: User,
    draft: Draft,
    idempotency_key: str = "",
    to: str | int | None = None,
    only_destination_id: int | None = None,
) -> Message:
    """Store the message, then hand it to the delivery queue once committed: the one way in.

    The destination is `to` (a label or an id), else the one the credential
    is limited to (`only_destination_id`), else the account's default. What
    the chat is shown (header, title, formatting as entities, buttons) is
    fixed here. The row is committed before anything is sent, and the
    periodic sweep finds it even if the queue loses the task. With an
    idempotency key already used in the last day, the first message is
    returned instead. Raises ChatNotLinked, ChatUnreachable,
    DestinationNotFound, DestinationNotAllowed, DraftInvalid, or
    QuotaExceeded when the account has used its quota for the minute.
    """
    check_draft(draft)
    text = normalize_line_breaks(draft.text)
    if idempotency_key and (earlier := selectors.message_for_idempotency_key(user=user, key=idempotency_key)):
        return earlier
    destination = _destination(user=user, to=to, only_destination_id=only_destination_id)
    if destination.unreachable_reason:
        raise ChatUnreachable(destination.unreachable_reason)
    header = format_header(user.name) if destination.header else ""
    content = compose(replace(draft, text=text), header)
    try:
        with transaction.atomic():
            now = throttling.take_place(user_id=user.pk)
            if idempotency_key:
                # A key older than its day may be used again.
                Message.objects.filter(
                    user=user, idempotency_key=idempotency_key, created_at__lt=selectors.idempotency_cutoff()
                ).update(idempotency_key="")
            deliver_at = draft.deliver_at if draft.deliver_at is not None and draft.deliver_at > now else None
            message = Message.objects.create(
                user=user,
                destination=destination,
                header=header,
                silent=destination.silent if draft.silent is None else draft.silent,
                text=text,
                format=draft.format,
                title=draft.title,
                rendered=content.rendered,
                entities=content.entities,
                buttons=content.buttons,
                deliver_at=deliver_at,
                accept_reply=draft.accept_reply,
                expires_at=draft.expires_at,
                created_at=now,
                updated_at=now,
                next_attempt_at=deliver_at or now,
                idempotency_key=idempotency_key,
            )
            if draft.attachment is not None:
                Attachment.objects.create(
                    message=message,
                    name=draft.attachment.name,
                    content_type=draft.attachment.content_type,
                    size=len(draft.attachment.data),
                    data=draft.attachment.data,
                )
            if deliver_at is None:
                transaction.on_commit(lambda: _dispatch_unless_booked(destination))
            else:
                transaction.on_commit(partial(_dispatch_at, destination.pk, deliver_at))
            transaction.on_commit(metrics.message_accepted)
    except QuotaExceeded:
        # A request with the same key that committed while this one waited made nothing new to count.
        if idempotency_key and (earlier := selectors.message_for_idempotency_key(user=user, key=idempotency_key)):
            return earlier
        raise
    except IntegrityError:
        # Either the same key committed by a concurrent request (the unique
        # constraint), or the destination removed since it was looked up
        # (its foreign key, checked at commit): told apart by what is stored now.
        if idempotency_key and (earlier := selectors.message_for_idempotency_key(user=user, key=idempotency_key)):
            return earlier
        if not Destination.objects.filter(pk=destination.pk).exists():
            raise ChatNotLinked from None
        raise
    return message


class NotCancellable(Exception):
    """The message has been sent, has failed, or is being sent now."""


# How long a cancel waits for a send under way to the same destination.
CANCEL_WAIT_SECONDS = 5.0


def cancel_message(*, message: Message) -> Message:
    """Withdraw a message that has not gone out: it becomes `cancelled` and is never sent.

    Taken under the destination's lease, so no send of it can be under way:
    of a cancel and a send, exactly one happens. Raises NotCancellable.
    """
    if message.status != Message.Status.QUEUED or message.parts_sent:
        raise NotCancellable(f"The message is {message.status}; only one not yet sent can be cancelled.")
    with delivery.borrowed(message.destination_id, wait=CANCEL_WAIT_SECONDS) as held:
        if not held:
            raise NotCancellable("The message's chat is being sent to right now; ask again in a moment.")
        with transaction.atomic():
            now = timezone.now()
            changed = Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED, parts_sent=0).update(
                status=Message.Status.CANCELLED, error="Cancelled by its sender.", updated_at=now
            )
            Attachment.objects.filter(message_id=message.pk).delete()
    message.refresh_from_db()
    if not changed:
        raise NotCancellable(f"The message is {message.status}; only one not yet sent can be cancelled.")
    return message


class DraftInvalid(ValueError):
    """A draft the service will not store, with the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def is_link(url: str) -> bool:
    """A link a button may open: http, https or tg with a host, no white space, at most 2,048 characters.

    The same pattern the API's schema states (relay/drafts.py), so what the schema lets through is taken.
    """
    return len(url) <= 2048 and LINK.match(url) is not None


def check_draft(draft: Draft) -> None:
    """What every way in must respect, whatever its own parser let through; raises DraftInvalid."""
    if draft.format not in FORMATS:
        raise DraftInvalid("format", f"One of: {', '.join(FORMATS)}.")
    if len(draft.title) > MAX_TITLE_LENGTH:
        raise DraftInvalid("title", f"At most {MAX_TITLE_LENGTH} characters.")
    every = [*draft.buttons, *(button for row in draft.keyboard for button in row)]
    rows = [(button,) for button in draft.buttons] + [row for row in draft.keyboard if row]
    if len(rows) > MAX_BUTTONS + 3 or any(len(row) > MAX_BUTTONS for row in rows):
        raise DraftInvalid("buttons", f"At most {MAX_BUTTONS} rows of {MAX_BUTTONS} buttons.")
    if len(every) + bool(draft.click) > MAX_KEYBOARD:
        raise DraftInvalid("buttons", f"At most {MAX_KEYBOARD} buttons.")
    for name, url in [("click", draft.click)] * bool(draft.click) + [("buttons", b.url) for b in every if b.url]:
        if not is_link(url):
            raise DraftInvalid(name, "A link is http://, https:// or tg:// with a host, and has no spaces.")
    for button in every:
        if not button.text.strip() or len(button.text) > MAX_BUTTON_TEXT:
            raise DraftInvalid("buttons", f"A button's text is 1 to {MAX_BUTTON_TEXT} characters.")
        if bool(button.url) == bool(button.answer):
            raise DraftInvalid("buttons", "A button has either a `url` or an `answer`.")
        if len(button.answer) > MAX_ANSWER:
            raise DraftInvalid("buttons", f"An answer is at most {MAX_ANSWER} characters.")
    if draft.attachment is not None:
        if not draft.attachment.data:
            raise DraftInvalid("attachment", "The file is empty.")
        if len(draft.attachment.data) > settings.ATTACHMENT_MAX_BYTES:
            raise DraftInvalid("attachment", f"At most {settings.ATTACHMENT_MAX_BYTES} bytes.")


def _dispatch_at(destination_pk: int, moment) -> None:
    # A scheduled message: a delivery task booked for its moment (the sweep
    # finds it too, should the queue lose the task).
    try:
        deliver_destination_task.schedule((destination_pk,), eta=moment)
    except Exception:
        logger.exception("could not schedule delivery for destination %s; the sweep will", destination_pk)


def _destination(*, user: User, to: str | int | None, only_destination_id: int | None) -> Destination:
    if to is None or to == "":
        if only_destination_id is not None:
            destination = selectors.destination_for_user(user=user, destination_id=only_destination_id)
        else:
            destination = selectors.default_destination(user=user)
        if destination is None:
            raise ChatNotLinked
        return destination
    destination = selectors.destination_named(user=user, to=to)
    if destination is None:
        raise DestinationNotFound
    if only_destination_id is not None and destination.pk != only_destination_id:
        raise DestinationNotAllowed
    return destination


def normalize_line_breaks(text: str) -> str:
    """Every line break as "\\n": a browser's form sends "\\r\\n", an old Mac's "\\r"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _dispatch_unless_booked(destination: Destination) -> None:
    # A destination waiting for its next turn (one message a second, a 429's
    # pause) has a task booked for that moment, which sends whatever is due
    # then, oldest first; asked after the commit, so that task is sure to see
    # this row. The margin allows for clocks a little apart between machines.
    if destination.next_turn_at is not None and destination.next_turn_at > timezone.now() + BOOKED_TURN_MARGIN:
        return
    dispatch_destination(destination_pk=destination.pk)


def dispatch_destination(*, destination_pk: int) -> None:
    """Ask a worker to deliver what is due for one destination."""
    try:
        deliver_destination_task(destination_pk)
    except Exception:
        # The message is already stored; the sweep will dispatch it.
        logger.exception("could not enqueue delivery for destination %s; the sweep will retry", destination_pk)


@dataclass(frozen=True)
class RetryOutcome:
    retried: int
    unlinked: int
    already_sent: int


def retry_messages(*, message_ids: Iterable[int]) -> RetryOutcome:
    """Queue failed (or waiting) messages to be sent now, from scratch but for parts already delivered.

    A message whose destination was removed has nowhere to go and is left
    failed; a sent one is left alone. An operator's action (the admin).
    """
    ids = list(message_ids)
    now = timezone.now()
    chosen = Message.objects.filter(pk__in=ids)
    unlinked = chosen.filter(destination__isnull=True).exclude(status=Message.Status.SENT).count()
    already_sent = chosen.filter(status=Message.Status.SENT).count()
    retryable = chosen.filter(status__in=[Message.Status.FAILED, Message.Status.QUEUED], destination__isnull=False)
    with transaction.atomic():
        destination_pks = set(retryable.values_list("destination_id", flat=True))
        # parts_sent stays: a retry resumes after the last part Telegram accepted.
        retried = retryable.update(
            status=Message.Status.QUEUED, attempts=0, next_attempt_at=now, error="", updated_at=now
        )
        for destination_pk in sorted(destination_pks):
            transaction.on_commit(partial(dispatch_destination, destination_pk=destination_pk))
    logger.info("%s message(s) queued again by an operator", retried, extra={"message_ids": ids, "outcome": "retry"})
    return RetryOutcome(retried=retried, unlinked=unlinked, already_sent=already_sent)
