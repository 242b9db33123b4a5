"""Telegram's rules for formatted text: parse_mode=HTML, entity arrays and links.

The error texts and the order of the checks follow the official Bot API server and
tdlib (parse_html, the MessageEntity parser, fix_formatted_text), because relays
branch on them and users see them.
"""

import re
from typing import Any
from urllib.parse import urlsplit

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)

# Telegram decodes only these names; any other "&name;" stays as typed.
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[^\s>]*")
_ENTITY = re.compile(r"&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|(lt|gt|amp|quot));?")


class EntityError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's reason."""


def parse_html(text: str) -> str:
    """Return the text Telegram shows for `text` sent with parse_mode=HTML.

    Raises EntityError for the markup Telegram refuses. Attribute values are not
    checked beyond finding where a tag ends.
    """
    shown: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            decoded, i = _entity_at(text, i)
            shown.append(decoded)
        elif char != "<":
            shown.append(char)
            i += 1
        elif text.startswith("</", i):
            i = _end_tag(text, i, open_tags)
        else:
            i = _start_tag(text, i, open_tags)
    if open_tags:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(shown)


def _start_tag(text: str, begin: int, open_tags: list[str]) -> int:
    name_end = _TAG_NAME.match(text, begin + 1).end()
    if name_end == len(text):
        raise EntityError(f"Unclosed start tag at byte offset {_offset(text, begin)}")
    name = text[begin + 1 : name_end].lower()
    if name not in SUPPORTED_TAGS:
        raise EntityError(f'Unsupported start tag "{name}" at byte offset {_offset(text, begin)}')
    end = _tag_end(text, name_end)
    if end < 0:
        raise EntityError(f'Unclosed start tag "{name}" at byte offset {_offset(text, begin)}')
    open_tags.append(name)
    return end + 1


def _end_tag(text: str, begin: int, open_tags: list[str]) -> int:
    offset = _offset(text, begin)
    if not open_tags:
        raise EntityError(f"Unexpected end tag at byte offset {offset}")
    end = text.find(">", begin)
    if end < 0:
        raise EntityError(f"Unclosed end tag at byte offset {offset}")
    name = text[begin + 2 : end].strip().lower()
    expected = open_tags.pop()
    # "</>" closes whatever is open, as in Telegram.
    if name and name != expected:
        raise EntityError(f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", found "</{name}>"')
    return end + 1


def _tag_end(text: str, i: int) -> int:
    """Index of the ">" closing a start tag, skipping quoted attribute values."""
    quote = None
    for j in range(i, len(text)):
        char = text[j]
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == ">":
            return j
    return -1


def _entity_at(text: str, i: int) -> tuple[str, int]:
    match = _ENTITY.match(text, i)
    if match is None:
        return "&", i + 1
    decimal, hexadecimal, name = match.groups()
    if name:
        return _NAMED[name], match.end()
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code > 0x10FFFF:
        return "&", i + 1
    return chr(code), match.end()


def _offset(text: str, i: int) -> int:
    """Telegram reports positions as UTF-8 byte offsets."""
    return len(text[:i].encode("utf-8", errors="surrogatepass"))


# -- entities sent as an array (entities, caption_entities) ------------------------

# What Telegram formats; it keeps these and checks their ranges.
FORMATTING_TYPES = frozenset(
    {
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "blockquote",
        "expandable_blockquote",
    }
)
# What Telegram finds in the text by itself: accepted, then dropped unchecked.
DETECTED_TYPES = frozenset(
    {"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bank_card_number"}
)
# Nothing may be nested inside these.
CODE_TYPES = frozenset({"code", "pre"})
MAX_ENTITY_BOUND = 1_000_000
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_INTEGER = re.compile(r"-?\d+")


class InvalidEntities(ValueError):
    """Entities Telegram refuses; the message is its description after "Bad Request: "."""


def check_entities(text: str, entities: list) -> tuple[list[dict], list[str]]:
    """Check an entity array against the text it formats, as Telegram does.

    Returns the entities Telegram keeps (normalised, in the order given) and the
    problems Telegram would fix silently: partial overlaps, entities inside code or
    pre, boundaries inside a surrogate pair. Raises InvalidEntities for what it refuses.
    """
    kept = [entity for entity in map(_parsed_entity, entities) if entity is not None]
    for entity in kept:
        if entity["type"] == "text_link":
            reason = url_problem(entity["url"])
            if reason:
                raise InvalidEntities(f"entity URL '{entity['url']}' is invalid: {reason}")
    for entity in kept:
        for name in ("offset", "length"):
            if not 0 <= entity[name] <= MAX_ENTITY_BOUND:
                raise InvalidEntities(f"receive an entity with incorrect {name} {entity[name]}")
    kept = [entity for entity in kept if entity["length"] > 0]
    units = utf16_length(text)
    for entity in kept:
        start, end = entity["offset"], entity["offset"] + entity["length"]
        if start > units:
            raise InvalidEntities(f"entity begins after the end of the text at UTF-16 offset {start}")
        if end > units:
            raise InvalidEntities(
                f"entity beginning at UTF-16 offset {start} ends after the end of the text at UTF-16 offset {end}"
            )
    return kept, _problems(text, kept)


def url_problem(url: str) -> str | None:
    """Why Telegram refuses a text_link's or a button's URL; None when it takes it."""
    if not url:
        return "URL host is empty"
    scheme, colon, rest = url.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme) or any(char.isspace() for char in url):
        return "Wrong HTTP URL"
    scheme = scheme.lower()
    if scheme == "tg":
        return None if rest.strip("/") else "Wrong HTTP URL"
    if scheme not in ("http", "https"):
        return "Unsupported URL protocol"
    if not rest.startswith("//"):
        return "Wrong HTTP URL"
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return "Wrong HTTP URL"
    return None if host else "URL host is empty"


def utf16_length(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _parsed_entity(value: Any) -> dict | None:
    """One MessageEntity as the Bot API reads it; None for a type Telegram detects by itself."""
    try:
        if not isinstance(value, dict):
            raise InvalidEntities("expected an Object")
        offset = _int_field(value, "offset")
        length = _int_field(value, "length")
        kind = _string_field(value, "type", required=True)
        if not kind:
            raise InvalidEntities("Type is not specified")
        if kind in DETECTED_TYPES:
            return None
        if kind not in FORMATTING_TYPES:
            raise InvalidEntities("Unsupported type specified")
        entity: dict[str, Any] = {"offset": offset, "length": length, "type": kind}
        if kind == "pre":
            language = _string_field(value, "language", required=False)
            if language:
                entity["language"] = language
        elif kind == "text_link":
            entity["url"] = _string_field(value, "url", required=True)
        elif kind == "text_mention":
            user = value.get("user")
            if user is None:
                raise InvalidEntities('Can\'t find field "user"')
            if not isinstance(user, dict):
                raise InvalidEntities('Field "user" must be of type Object')
            entity["user"] = {**user, "id": _int_field(user, "id")}
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = str(_int_field(value, "custom_emoji_id"))
    except InvalidEntities as error:
        raise InvalidEntities(f"can't parse MessageEntity: {error}") from None
    return entity


def _int_field(value: dict, name: str) -> int:
    # Like the Bot API, a number may also come as a string of digits.
    field = value.get(name)
    if field is None:
        raise InvalidEntities(f'Can\'t find field "{name}"')
    if isinstance(field, bool) or not isinstance(field, int | float | str):
        raise InvalidEntities(f'Field "{name}" must be a Number')
    if isinstance(field, int):
        return field
    if isinstance(field, str) and _INTEGER.fullmatch(field):
        return int(field)
    raise InvalidEntities(f'Field "{name}" must be a valid Number')


def _string_field(value: dict, name: str, *, required: bool) -> str:
    field = value.get(name)
    if field is None:
        if required:
            raise InvalidEntities(f'Can\'t find field "{name}"')
        return ""
    if not isinstance(field, str):
        raise InvalidEntities(f'Field "{name}" must be of type String')
    return field


def _problems(text: str, entities: list[dict]) -> list[str]:
    """What Telegram would quietly repair, and a careful sender never sends."""
    problems = []
    halves = _second_halves(text)
    for entity in entities:
        for edge, where in zip(_span(entity), ("begins", "ends"), strict=True):
            if edge in halves:
                problems.append(f"{_described(entity)} {where} inside a surrogate pair")
    for i, first in enumerate(entities):
        for j, second in enumerate(entities):
            if i == j:
                continue
            a_start, a_end = _span(first)
            b_start, b_end = _span(second)
            if i < j and (a_start < b_start < a_end < b_end or b_start < a_start < b_end < a_end):
                problems.append(f"{_described(first)} partly overlaps {_described(second)}")
            # second inside first; an equal range counts as inside only between two code/pre entities.
            if first["type"] in CODE_TYPES and a_start <= b_start and b_end <= a_end:
                same = (a_start, a_end) == (b_start, b_end)
                if not same or (second["type"] in CODE_TYPES and i < j):
                    problems.append(f"{_described(second)} is inside {_described(first)}")
    return problems


def _second_halves(text: str) -> set[int]:
    """UTF-16 offsets that fall between the two halves of a surrogate pair."""
    halves, offset = set(), 0
    for char in text:
        offset += 1
        if ord(char) > 0xFFFF:
            halves.add(offset)
            offset += 1
    return halves


def _span(entity: dict) -> tuple[int, int]:
    return entity["offset"], entity["offset"] + entity["length"]


def _described(entity: dict) -> str:
    start, end = _span(entity)
    return f"{entity['type']} [{start}, {end})"
