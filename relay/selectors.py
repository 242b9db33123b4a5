from django.db.models import QuerySet

from accounts.models import User
from relay.models import Message


def messages_for_user(*, user: User) -> QuerySet[Message]:
    """The account's own messages, newest first."""
    return Message.objects.filter(user=user).order_by("-created_at", "-id")


def message_for_user(*, user: User, message_id: int) -> Message | None:
    return Message.objects.filter(user=user, pk=message_id).first()
