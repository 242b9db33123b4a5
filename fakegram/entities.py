"""Telegram's rules for parse_mode=HTML, enough to reject what Telegram rejects.

The error texts and the order of the checks follow the official parser (tdlib's
parse_html), because relays branch on "can't parse entities" and users see them.
"""

import re

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
