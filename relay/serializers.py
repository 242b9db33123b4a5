from collections.abc import Iterator
from json.encoder import encode_basestring

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from relay import streaming
from relay.models import Message
from relay.validation import has_visible_character

# The largest id either database stores (a 64-bit integer): beyond it a comparison fails.
MAX_ID = 2**63 - 1


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


def sent_compat_json(messages: QuerySet[Message]) -> Iterator[str]:
    """The messages as SentCompatOutput's JSON array, written row by row in constant memory.

    Each row is formatted by hand (DRF's compact JSON: no spaces, non-ASCII
    kept), at several times the rate of serializing it.
    """
    rows = streaming.values(messages, "id", streaming.IsoUtc("created_at"), "text", "status")

    def pieces() -> Iterator[str]:
        separator = "["
        for id_, date, text, status in rows:
            yield f'{separator}{{"id":{id_},"date":"{date}","content":{encode_basestring(text)},"status":"{status}"}}'
            separator = ","
        yield "[]" if separator == "[" else "]"

    return streaming.chunked(pieces())


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdField(serializers.Field):
    """A positive whole number in ASCII digits up to MAX_ID: an id, or a count of them."""

    default_error_messages = {"invalid": f"A whole number from 1 to {MAX_ID}, in digits."}

    def get_value(self, dictionary):
        # As given: DRF reads an empty query parameter ("?limit=") as one not given.
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data) -> int:
        # Not IntegerField: int() also takes "+5", "5_000", "5.0" and other scripts' digits.
        # A length bound first: int() of thousands of digits is slow, and refused past 4,300.
        digits = data.lstrip("0") if isinstance(data, str) else ""
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 19 and int(digits) <= MAX_ID):
            self.fail("invalid")
        return int(digits)

    def to_representation(self, value: int) -> int:
        return value


class SentCompatQuery(serializers.Serializer):
    """`GET /message/sent`'s optional paging."""

    limit = IdField(required=False, help_text="At most this many messages.")
    before = IdField(
        required=False,
        help_text="Only the messages after this one in the list (accepted before it): "
        "for the next page, the id of the last message received.",
    )
