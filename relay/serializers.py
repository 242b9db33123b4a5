from django.conf import settings
from rest_framework import serializers

from relay.models import Message


def validate_text(value: str) -> str:
    if not value.strip():
        raise serializers.ValidationError("The message is empty.")
    return value


class MessageTextField(serializers.CharField):
    """A message text: a JSON string only (a plain CharField takes 42 for "42"), kept as sent."""

    def __init__(self, **kwargs):
        # Not allow_blank: a blank field skips the validators, so "" would get through.
        kwargs.setdefault("error_messages", {"blank": "The message is empty."})
        super().__init__(
            max_length=settings.MESSAGE_MAX_LENGTH, trim_whitespace=False, validators=[validate_text], **kwargs
        )

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MessageInput(serializers.Serializer):
    text = MessageTextField()


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "text", "status", "created_at", "sent_at", "error", "attempts"]


class AcceptedOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "text", "created_at", "status"]


class SentCompatInput(serializers.Serializer):
    content = MessageTextField()


class SentCompatOutput(serializers.ModelSerializer):
    content = serializers.CharField(source="text")
    date = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Message
        fields = ["id", "date", "content", "status"]
