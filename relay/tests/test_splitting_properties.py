"""Property-based: splitting keeps every character, in order, within Telegram's limit, header first.

Texts are drawn from every kind of character the relay meets (line breaks,
spaces, Cyrillic, emoji of one and two UTF-16 units, joiners), at lengths
around the limit; small limits make the same cuts happen on short texts.
"""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from relay.splitting import TELEGRAM_TEXT_LIMIT, format_header, split_message, utf16_len
from relay.tests.test_splitting import check_parts

PIECES = st.sampled_from(["\n", " ", "  ", "a", "word ", "я", "сообщение ", "😀", "\U0001f469\u200d\U0001f467", "\t"])
TEXTS = st.lists(PIECES | st.text(max_size=8), max_size=400).map("".join)
NAMES = st.text(min_size=1, max_size=150)


@settings(max_examples=200, deadline=None)
@given(name=NAMES, text=TEXTS, room=st.integers(min_value=2, max_value=80))
@example(name="Alice", text="😀" * 40, room=2)
@example(name="Alice", text="\n" * 100, room=3)
def test_parts_rejoin_fit_and_keep_the_header_first(name, text, room):
    header = format_header(name)
    # Any limit the header fits in, with room for at least one character of text.
    limit = utf16_len(header) + room

    parts = split_message(name, text, limit=limit)

    check_parts(parts, text, limit=limit, header=header)
    # The header opens the first part only: the rest is the text, in order.
    assert "".join(parts[1:]) == (header + text)[len(parts[0]) :]


@settings(max_examples=25, deadline=None)
@given(name=NAMES, text=st.lists(PIECES, min_size=1200, max_size=2400).map("".join))
def test_long_texts_at_the_real_limit(name, text):
    header = format_header(name)

    parts = split_message(name, text)

    check_parts(parts, text, limit=TELEGRAM_TEXT_LIMIT, header=header)
    if utf16_len(header + text) > TELEGRAM_TEXT_LIMIT:
        assert len(parts) > 1
