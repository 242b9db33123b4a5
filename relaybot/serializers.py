from rest_framework import serializers

from relay.models import Destination


class LinkCodeOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Send it to the bot, or open `deep_link`.")
    deep_link = serializers.URLField(allow_null=True, help_text="Opens the bot with `/start <code>`.")
    expires_at = serializers.DateTimeField()


class ChatOutput(serializers.ModelSerializer):
    first_name = serializers.CharField(source="title")

    class Meta:
        model = Destination
        fields = ["chat_id", "username", "first_name", "linked_at", "unreachable_reason"]


class LinkStatusOutput(serializers.Serializer):
    linked = serializers.BooleanField()
    chat = ChatOutput(allow_null=True)


class VerificationCodeField(serializers.CharField):
    """A verification code as typed: the schema states its format (config/schema_rules.py)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)


class VerifyInput(serializers.Serializer):
    code = VerificationCodeField()


class VerifyCompatInput(serializers.Serializer):
    verification_code = VerificationCodeField()
