"""Splitting a relayed text into Telegram-sized parts without losing a character."""

# Telegram counts code points; UTF-16 units are never fewer, so counting
# them is a safe bound for any text, emoji included.
TELEGRAM_TEXT_LIMIT = 4096
HEADER_TEMPLATE = "{name}, я получил от тебя сообщение:\n"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def format_header(name: str) -> str:
    return HEADER_TEMPLATE.format(name=name)


def split_message(name: str, text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """The parts to send for `text` from the account named `name`; see split_text."""
    return split_text(format_header(name), text, limit)


def split_text(header: str, text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """The parts to send, in order: the header opens the first one.

    Cuts fall after a line break where one fits, else after a space, else
    anywhere between two code points; joined back, the parts are exactly the
    header followed by the text. The same header and text always give the
    same parts, which is what lets delivery resume after the last part sent.
    """
    full = header + text
    parts = []
    # The header's own line break and spaces are no place to cut: the first
    # part would be the header alone.
    start = len(header)
    while utf16_len(full) > limit:
        cut = _cut_point(full, limit, start)
        parts.append(full[:cut])
        full = full[cut:]
        start = 0
    parts.append(full)
    return parts


def _cut_point(text: str, limit: int, start: int = 0) -> int:
    # The longest prefix within `limit` UTF-16 units.
    end, units = 0, 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > limit:
            break
        units += width
        end += 1
    window = text[:end]
    for separator in ("\n", " "):
        position = window.rfind(separator, start)
        # Not at the very start, or the part would be empty.
        if position > 0:
            return position + 1
    return end
