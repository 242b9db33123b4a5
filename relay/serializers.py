from django.conf import settings
from rest_framework import serializers

from relay.models import Message


def validate_text(value: str) -> str:
    if not value.strip():
        raise serializers.ValidationError("The message is empty.")
    return value


class MessageInput(serializers.Serializer):
    text = serializers.CharField(
        max_length=settings.MESSAGE_MAX_LENGTH, trim_whitespace=False, allow_blank=True, validators=[validate_text]
    )


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "text", "status", "created_at", "sent_at", "error", "attempts"]


class AcceptedOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "text", "created_at", "status"]


class SentCompatInput(serializers.Serializer):
    content = serializers.CharField(
        max_length=settings.MESSAGE_MAX_LENGTH, trim_whitespace=False, allow_blank=True, validators=[validate_text]
    )


class SentCompatOutput(serializers.ModelSerializer):
    content = serializers.CharField(source="text")
    date = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Message
        fields = ["id", "date", "content", "status"]
