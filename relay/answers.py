"""Answers to questions: a button pressed under a relayed message, or a Telegram reply to it.

The first answer wins (a conditional UPDATE); a second one, one after the
question expired, or one from another chat is refused, and the caller tells
the person so in Telegram.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from events import services as events
from relay.content import answer_of
from relay.models import AnswerablePart, Message

RECORDED = "recorded"
ALREADY_ANSWERED = "already_answered"
EXPIRED = "expired"
NOT_A_QUESTION = "not_a_question"


@dataclass(frozen=True)
class Outcome:
    result: str
    message: Message | None = None
    # The answer now on the message: this one, or the one that came first.
    value: str = ""


def answer_by_button(*, chat_id: int, telegram_message_id: int, data: str, by: str) -> Outcome:
    """A press of an answer button (`ans:<message>:<row>.<column>`) on the Telegram message it was sent with."""
    message = _question(chat_id, telegram_message_id)
    if message is None:
        return Outcome(NOT_A_QUESTION)
    if message.answer is not None:
        # Whatever was pressed: the buttons left from before the answer, or the choice shown since.
        return Outcome(ALREADY_ANSWERED, message, message.answer.get("value", ""))
    prefix, _, rest = data.partition(":")
    message_id, _, place = rest.partition(":")
    if prefix != "ans" or message_id != str(message.pk):
        return Outcome(NOT_A_QUESTION, message)
    value = answer_of(message.buttons, place)
    if value is None:
        return Outcome(NOT_A_QUESTION, message)
    return _record(message, value=value, kind="button", by=by)


def answer_by_reply(*, chat_id: int, telegram_message_id: int, text: str, by: str) -> Outcome:
    """A Telegram reply to the message, if it takes replies."""
    message = _question(chat_id, telegram_message_id)
    if message is None or not message.accept_reply:
        return Outcome(NOT_A_QUESTION, message)
    return _record(message, value=text, kind="reply", by=by)


def _question(chat_id: int, telegram_message_id: int) -> Message | None:
    part = (
        AnswerablePart.objects.select_related("message__destination")
        .filter(chat_id=chat_id, telegram_message_id=telegram_message_id)
        .first()
    )
    return part.message if part is not None else None


def _record(message: Message, *, value: str, kind: str, by: str) -> Outcome:
    now = timezone.now()
    if message.answer is not None:
        return Outcome(ALREADY_ANSWERED, message, message.answer.get("value", ""))
    if message.expires_at is not None and now > message.expires_at:
        return Outcome(EXPIRED, message)
    answer = {"value": value, "kind": kind, "by": by, "at": now.isoformat().replace("+00:00", "Z")}
    with transaction.atomic():
        # Conditional: of two answers at once, exactly one is recorded.
        won = Message.objects.filter(pk=message.pk, answer__isnull=True).update(answer=answer, updated_at=now)
        if won:
            message.answer = answer
            events.emit_message(message=message, event_type=events.EventType.MESSAGE_ANSWERED, answer=answer)
    message.refresh_from_db(fields=["answer", "updated_at"])
    if not won:
        return Outcome(ALREADY_ANSWERED, message, message.answer.get("value", ""))
    transaction.on_commit(lambda: _answered(message), robust=True)
    return Outcome(RECORDED, message, value)


def _answered(message: Message) -> None:
    # Wakes whoever waits for this message (relay/waiting.py).
    from relay import waiting

    waiting.notify(message.pk)
