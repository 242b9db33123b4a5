from django.conf import settings
from rest_framework import serializers

from relay.models import Message
from relay.validation import has_visible_character


def validate_text(value: str) -> str:
    # Whitespace or invisible characters only would reach the chat as nothing.
    if not has_visible_character(value):
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


# The two answers to an accepted message are plain serializers: a
# ModelSerializer looks its fields up in the model on every use, which
# costs more than the rest of the answer (docs/benchmarks.md).
class AcceptedOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    text = serializers.CharField()
    created_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Message.Status.choices)


class SentCompatInput(serializers.Serializer):
    content = MessageTextField()


class SentCompatOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    date = serializers.DateTimeField(source="created_at")
    content = serializers.CharField(source="text")
    status = serializers.ChoiceField(choices=Message.Status.choices)
