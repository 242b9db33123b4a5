"""Changes to sent messages: new text, or deletion from the chat, delivered through the destination's queue.

Telegram edits and deletes each Telegram message a text went out as; a
revision asks for that, and the worker carries it out in the destination's
order with the messages' retries (relay/delivery.py).
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from relay import services
from relay.content import compose, text_parts
from relay.drafts import Draft
from relay.models import Message, Revision


class NotEditable(Exception):
    """The message is not one Telegram shows now, or a deletion of it is under way."""


class TooManyParts(Exception):
    """The new text needs more Telegram messages than the original went out as."""


@dataclass(frozen=True)
class Parts:
    """The Telegram message ids of a sent message: its text's parts, then its file's, if any."""

    text_ids: list[int]
    file_ids: list[int]


def sent_parts(message: Message) -> Parts:
    """Which of the message's Telegram ids carry its text: a part cut from a blank run was never sent."""
    parts = text_parts(header=message.header, shown=message.rendered or message.text, entities=message.entities)
    count = sum(1 for part, _ in parts if part.strip())
    ids = list(message.telegram_message_ids)
    return Parts(text_ids=ids[:count], file_ids=ids[count:])


def edited_parts(*, header: str, rendered: str, text: str, entities: list[dict]) -> list[tuple[str, list[dict]]]:
    """The parts new text goes out as, blank ones passed over as when sending."""
    parts = text_parts(header=header, shown=rendered or text, entities=entities)
    return [(part, part_entities) for part, part_entities in parts if part.strip()]


def edit_message(*, message: Message, text: str) -> Message:
    """Ask for a sent message's text to be replaced in the chat, every part of it, the header kept.

    The new text is shown as the original was (its format and title), and
    stored on the message once Telegram has it. Raises NotEditable,
    TooManyParts, or DraftInvalid.
    """
    if message.status == Message.Status.QUEUED:
        raise NotEditable(
            "The message has not been sent yet, so there is nothing to edit: cancel it (DELETE) and send the new text."
        )
    if message.status != Message.Status.SENT or message.destination_id is None:
        raise NotEditable(f"The message is {message.status}; only a sent message can be edited.")
    if _deletion_asked(message):
        raise NotEditable("The message is being deleted from the chat.")
    draft = Draft(text=services.normalize_line_breaks(text), format=message.format, title=message.title)
    services.check_draft(draft)
    if not draft.text.strip():
        raise services.DraftInvalid("text", "The text is empty.")
    content = compose(draft, message.header)
    old = sent_parts(message)
    if not old.text_ids:
        raise NotEditable("The message has no text in the chat to edit.")
    new = edited_parts(header=message.header, rendered=content.rendered, text=draft.text, entities=content.entities)
    if len(new) > len(old.text_ids):
        raise TooManyParts(
            f"The new text needs {len(new)} Telegram messages and the original went out as {len(old.text_ids)}: "
            "Telegram cannot add messages by editing. Shorten the text, or send it as a new message."
        )
    _ask(message, kind=Revision.Kind.EDIT, text=draft.text, rendered=content.rendered, entities=content.entities)
    message.refresh_from_db()
    return message


def delete_message(*, message: Message) -> tuple[Message, bool]:
    """Delete a sent message from the chat (every part), or cancel one still queued.

    Returns the message and whether a deletion was queued (False: it was
    cancelled). Raises NotCancellable for one that is neither.
    """
    if message.status == Message.Status.QUEUED:
        try:
            return services.cancel_message(message=message), False
        except services.NotCancellable:
            # Sent meanwhile: then it is deleted instead.
            message.refresh_from_db()
            if message.status != Message.Status.SENT:
                raise
    if message.status != Message.Status.SENT or message.destination_id is None:
        raise services.NotCancellable(
            f"The message is {message.status}; only a queued one can be cancelled, or a sent one deleted."
        )
    if not _deletion_asked(message):
        _ask(message, kind=Revision.Kind.DELETE)
    message.refresh_from_db()
    return message, True


def _deletion_asked(message: Message) -> bool:
    return message.revisions.filter(kind=Revision.Kind.DELETE, status=Revision.Status.PENDING).exists()


def _ask(message: Message, *, kind: str, text: str = "", rendered: str = "", entities: list | None = None) -> None:
    destination_pk = message.destination_id
    with transaction.atomic():
        # It waits for what was accepted before it, and goes before what comes after.
        after = Message.objects.filter(destination_id=destination_pk).aggregate(last=Max("id"))["last"] or 0
        Revision.objects.create(
            message=message,
            destination_id=destination_pk,
            kind=kind,
            text=text,
            rendered=rendered,
            entities=entities or [],
            after_message_id=after,
            created_at=timezone.now(),
            next_attempt_at=timezone.now(),
        )
        transaction.on_commit(lambda: services.dispatch_destination(destination_pk=destination_pk))
