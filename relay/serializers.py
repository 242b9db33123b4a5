import re
from collections.abc import Iterator
from datetime import UTC, datetime
from json.encoder import encode_basestring

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config import schema_rules
from relay import search, streaming
from relay.drafts import (
    FORMATS,
    LINK_PATTERN,
    MAX_ANSWER,
    MAX_BUTTON_TEXT,
    MAX_BUTTONS,
    MAX_TITLE_LENGTH,
    Button,
    Draft,
)
from relay.labels import LABEL_PATTERN
from relay.models import Destination, Message
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


class AsGiven:
    """A query parameter read as given: DRF reads an empty one ("?limit=") as one not given."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, serializers.empty)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "minLength": 1, "maxLength": 64},
        ]
    }
)
class DestinationRefField(AsGiven, serializers.Field):
    """A destination, by its id (a number) or its label (a string)."""

    default_error_messages = {"invalid": "A destination's id (a number) or its label (a string)."}

    def to_internal_value(self, data) -> str | int:
        if isinstance(data, int) and not isinstance(data, bool) and 0 < data <= MAX_ID:
            return data
        if isinstance(data, str) and 0 < len(data) <= 64:
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value


# RFC 3339, what OpenAPI's `date-time` means: a date, a time to the second, an offset.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII | re.IGNORECASE)


@extend_schema_field({"type": "string", "format": "date-time"})
class MomentField(AsGiven, serializers.Field):
    """A moment in ISO 8601 (RFC 3339) with its offset, e.g. `2026-03-01T12:30:00Z`; returned in UTC."""

    default_error_messages = {"invalid": "A date and time with its offset, e.g. 2026-03-01T12:30:00Z."}

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str) or not RFC3339.fullmatch(data):
            self.fail("invalid")
        try:
            moment = datetime.fromisoformat(data.upper())
        except ValueError:  # a day or hour out of range, a leap second
            self.fail("invalid")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            # Within a day of the first or last moment Python has: as far as any message is.
            return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class LinkField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"invalid": "An http://, https:// or tg:// link with a host, no spaces."})
        super().__init__(LINK_PATTERN, max_length=2048, **kwargs)


class ButtonInput(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_BUTTON_TEXT, help_text="The button's label.")
    url = LinkField(required=False, help_text="An http://, https:// or tg:// link it opens.")
    answer = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=MAX_ANSWER,
        help_text="Pressing it answers the message with this value (see `answer`). A button has `url` or `answer`.",
    )

    def validate(self, data):
        if ("url" in data) == ("answer" in data):
            raise serializers.ValidationError("A button has either a `url` or an `answer`.")
        return data


# A button: a link or an answer (ButtonInput), written out: the field's schema cannot refer to a component.
BUTTON_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_BUTTON_TEXT, **schema_rules.not_blank()},
        "url": {"type": "string", "maxLength": 2048, "pattern": LINK_PATTERN},
        "answer": {"type": "string", "minLength": 1, "maxLength": MAX_ANSWER, **schema_rules.no_nul()},
    },
    "required": ["text"],
    "oneOf": [{"required": ["url"]}, {"required": ["answer"]}],
}


@extend_schema_field(
    {
        "type": "array",
        "maxItems": MAX_BUTTONS,
        "items": {
            "oneOf": [
                BUTTON_SCHEMA,
                {"type": "array", "items": BUTTON_SCHEMA, "minItems": 1, "maxItems": MAX_BUTTONS},
            ]
        },
    }
)
class KeyboardField(serializers.Field):
    """Buttons under the message: a list of buttons (one a row), or of rows of buttons."""

    default_error_messages = {"invalid": "A list of buttons, or of rows (lists) of buttons."}

    def to_internal_value(self, data) -> list[list[dict]]:
        if not isinstance(data, list) or len(data) > MAX_BUTTONS:
            self.fail("invalid")
        rows = []
        for item in data:
            row = item if isinstance(item, list) else [item]
            if not row or len(row) > MAX_BUTTONS:
                self.fail("invalid")
            buttons = ButtonInput(data=row, many=True)
            if not buttons.is_valid():
                raise serializers.ValidationError(buttons.errors)
            rows.append(buttons.validated_data)
        return rows

    def to_representation(self, value):
        return value


class ShallowFields:
    """A serializer whose fields are copied shallowly for each instance.

    DRF deep-copies every declared field for each serializer, which builds
    each one again: for MessageInput's eleven, about a tenth of a request's
    CPU (docs/benchmarks.md). A field that holds no other field keeps its
    own state only in what binding sets, so a shallow copy is as good.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, field in cls._declared_fields.items():
            # A nested serializer or a list's child is bound to its holder: that needs the deep copy.
            if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child"):
                raise TypeError(f"{cls.__name__}.{name} holds other fields; it cannot be copied shallowly.")

    def get_fields(self):
        fields = {}
        for name, declared in self._declared_fields.items():
            # copy.copy without its generic __reduce_ex__ round: a new instance with the same attributes.
            field = object.__new__(type(declared))
            field.__dict__.update(declared.__dict__)
            fields[name] = field
        return fields


class MessageInput(ShallowFields, serializers.Serializer):
    text = MessageTextField()
    to = DestinationRefField(
        required=False, help_text="Where to send it: a destination's id or label. The default destination if left out."
    )
    title = serializers.CharField(
        required=False, max_length=MAX_TITLE_LENGTH, help_text="A bold first line above the text."
    )
    format = serializers.ChoiceField(
        choices=FORMATS,
        default="text",
        help_text="How `text` is written: `markdown` (CommonMark) or `html` (Telegram's tags) become formatting; "
        "it can never make the message fail.",
    )
    silent = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Without a notification sound; the destination's setting if left out.",
    )
    click = LinkField(required=False, help_text="A link, shown as a button.")
    buttons = KeyboardField(
        required=False,
        help_text=f"Up to {MAX_BUTTONS} buttons under the message: links, or answers that make it a question.",
    )
    accept_reply = serializers.BooleanField(
        default=False, help_text="A question: a Telegram reply to the message is its answer (see `answer`)."
    )
    expires_at = MomentField(required=False, help_text="A question takes answers until this moment.")
    deliver_at = MomentField(required=False, help_text="Not sent before this moment (cancel with DELETE until then).")

    def draft(self) -> Draft:
        data = self.validated_data
        return Draft(
            text=data["text"],
            title=data.get("title", ""),
            format=data["format"],
            silent=data.get("silent"),
            click=data.get("click", ""),
            keyboard=tuple(
                tuple(Button(text=b["text"], url=b.get("url", ""), answer=b.get("answer", "")) for b in row)
                for row in data.get("buttons", [])
            ),
            accept_reply=data["accept_reply"],
            expires_at=data.get("expires_at"),
            deliver_at=data.get("deliver_at"),
        )


class AnswerOutput(serializers.Serializer):
    value = serializers.CharField()
    kind = serializers.ChoiceField(choices=["button", "reply"])
    by = serializers.CharField(help_text="Who answered, as Telegram names them.")
    at = serializers.DateTimeField()


class MessageOutput(serializers.ModelSerializer):
    answer = AnswerOutput(allow_null=True, read_only=True, help_text="The first answer to a question, or null.")

    class Meta:
        model = Message
        fields = [
            "id",
            "destination",
            "text",
            "title",
            "format",
            "status",
            "created_at",
            "deliver_at",
            "sent_at",
            "error",
            "attempts",
            "answer",
            "expires_at",
        ]


# The two answers to an accepted message are plain serializers: a
# ModelSerializer looks its fields up in the model on every use, which
# costs more than the rest of the answer (docs/benchmarks.md).
class AcceptedOutput(ShallowFields, serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    destination = serializers.IntegerField(source="destination_id", help_text="The destination's id.")
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
class IdField(AsGiven, serializers.Field):
    """A positive whole number in ASCII digits up to MAX_ID: an id, or a count of them."""

    default_error_messages = {"invalid": f"A whole number from 1 to {MAX_ID}, in digits."}

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


class StatusField(AsGiven, serializers.ChoiceField):
    pass


@extend_schema_field({"type": "string", "maxLength": search.MAX_LENGTH, **schema_rules.no_nul()})
class SearchField(AsGiven, serializers.Field):
    """Words to look for, as typed; blank is no search."""

    default_error_messages = {
        "invalid": f"At most {search.MAX_LENGTH} characters, none of them NUL.",
    }

    def to_internal_value(self, data) -> str:
        # Not a CharField: with a blank allowed, its schema would say "" twice over (oneOf).
        if not isinstance(data, str) or len(data) > search.MAX_LENGTH or "\x00" in data:
            self.fail("invalid")
        return data

    def to_representation(self, value: str) -> str:
        return value


class MessageListQuery(serializers.Serializer):
    """`GET /api/v1/messages/`'s paging and filters."""

    cursor = IdField(
        required=False, help_text="Where the page starts, as the `next` link of the page before carries it."
    )
    before = IdField(required=False, help_text="Only messages older than this one (with a lower id).")
    status = StatusField(choices=Message.Status.choices, required=False, help_text="Only messages in this state.")
    destination = DestinationRefField(required=False, help_text="Only messages to this destination (id or label).")
    created_after = MomentField(required=False, help_text="Only messages accepted after this moment.")
    created_before = MomentField(required=False, help_text="Only messages accepted before this moment.")
    q = SearchField(
        required=False,
        help_text="Only messages with every one of these words, in any letter case; the last word also as "
        "the start of a longer one (from 3 letters). Quotes and operators are read as plain text.",
    )


class MessagePageOutput(serializers.Serializer):
    next = serializers.URLField(
        allow_null=True, help_text="The next (older) page with the same filters; null on the last page."
    )
    results = MessageOutput(many=True)


class DestinationOutput(serializers.ModelSerializer):
    class Meta:
        model = Destination
        fields = [
            "id",
            "label",
            "kind",
            "title",
            "chat_id",
            "thread_id",
            "is_default",
            "unreachable_reason",
            "header",
            "silent",
            "bundle",
            "linked_at",
        ]
        extra_kwargs = {
            "label": {"help_text": "What `to` names; also the ntfy topic name."},
            "header": {"help_text": "Messages open with the required `{Name}, я получил от тебя сообщение:` line."},
            "silent": {"help_text": "Messages arrive without a notification sound (disable_notification)."},
            "bundle": {
                "help_text": "Messages that wait for this chat's next turn go out together as one Telegram message."
            },
        }


class LabelField(AsGiven, serializers.RegexField):
    """A destination's label: an ntfy topic name (relay/labels.py); a blank one is refused, not skipped."""

    def __init__(self, **kwargs):
        super().__init__(
            LABEL_PATTERN,
            max_length=64,
            error_messages={"invalid": "1 to 64 of A-Z a-z 0-9 - _."},
            help_text="1 to 64 of A-Z a-z 0-9 - _; not a name the service uses for its own pages.",
            **kwargs,
        )

    def to_internal_value(self, data):
        # A JSON string only: a plain CharField takes 42 for "42".
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DestinationUpdateInput(serializers.Serializer):
    label = LabelField(required=False)
    is_default = serializers.BooleanField(required=False, help_text="Messages without `to` go here.")
    header = serializers.BooleanField(required=False)
    silent = serializers.BooleanField(required=False)
    bundle = serializers.BooleanField(required=False)


class DestinationLinkInput(serializers.Serializer):
    label = LabelField(required=False)


class DestinationLinkOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Single use. Sent in a chat, a group, a topic or a channel, it links it.")
    label = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField()
    private_link = serializers.URLField(allow_null=True, help_text="Opens the bot in a private chat.")
    group_link = serializers.URLField(allow_null=True, help_text="Lets you pick a group; the bot joins and links it.")
    start_command = serializers.CharField(
        help_text="Send this in a group or forum topic the bot is in, or post it in a channel where the bot is "
        "an administrator allowed to post."
    )


class MessageDetailQuery(serializers.Serializer):
    wait = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=300,
        help_text="Seconds to wait for the message to be answered (a question) or sent, or to fail, "
        "before answering; it answers as soon as that happens.",
    )
