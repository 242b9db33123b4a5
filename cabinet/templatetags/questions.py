"""What the message pages show of a question: its answer buttons, whether replies count, and its answer."""

from datetime import datetime

from django import template
from django.utils import timezone

from relay.models import Message

register = template.Library()


@register.filter
def question(message: Message) -> dict | None:
    """The question's state for the templates, or None when the message asks nothing.

    `answer` is the recorded answer with its time as a datetime; `expired`
    is true once answers are no longer taken and none came.
    """
    choices = [button["text"] for row in message.buttons or [] for button in row if button.get("answer")]
    if not choices and not message.accept_reply:
        return None
    answer = None
    if message.answer:
        answer = dict(message.answer)
        try:
            answer["at"] = datetime.fromisoformat(str(answer.get("at", "")))
        except ValueError:
            answer["at"] = None
    expired = answer is None and message.expires_at is not None and message.expires_at <= timezone.now()
    return {
        "choices": choices,
        "accept_reply": message.accept_reply,
        "expires_at": message.expires_at,
        "answer": answer,
        "expired": expired,
    }
