"""Long texts: cut at line, then word boundaries, never losing or reordering a character."""

import pytest

from conftest import ALICE_CHAT, link
from relay.splitting import TELEGRAM_TEXT_LIMIT, format_header, split_message, utf16_len
from relay.tests.helpers import get_message, post_text, stored, texts

HEADER = format_header("Alice")
GRINNING = "\U0001f600"  # one code point, two UTF-16 units
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
FLAG = "\U0001f1f7\U0001f1fa"


def check_parts(parts: list[str], text: str, limit: int = TELEGRAM_TEXT_LIMIT, header: str = HEADER) -> None:
    """What holds for every split: order and content kept, header once, every part fits."""
    assert "".join(parts) == header + text
    assert parts[0].startswith(header)
    assert all(part for part in parts)
    assert all(utf16_len(part) <= limit for part in parts)
    # Whole code points only: a lone surrogate would not encode.
    for part in parts:
        part.encode("utf-16-le")
        part.encode("utf-8")


def lines_of_words(length: int) -> str:
    words = ["relay", "сообщение", "Telegram", "order", "queue", "chat", "😀", "line"]
    lines, line, total = [], [], 0
    index = 0
    while total < length:
        word = words[index % len(words)]
        index += 1
        line.append(word)
        total += len(word) + 1
        if len(line) == 11:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines)[:length]


# -- relay.splitting --------------------------------------------------------------


def test_header_format():
    assert format_header("Alice") == "Alice, я получил от тебя сообщение:\n"


def test_utf16_len_counts_surrogate_pairs_twice():
    assert utf16_len("abc") == 3
    assert utf16_len("я") == 1
    assert utf16_len(GRINNING) == 2
    assert utf16_len(FAMILY) == 11
    assert utf16_len(FLAG) == 4


def test_short_text_is_one_part_with_the_header():
    assert split_message("Alice", "Hello") == [HEADER + "Hello"]


def test_text_filling_the_limit_exactly_is_one_part():
    text = "x" * (TELEGRAM_TEXT_LIMIT - len(HEADER))

    parts = split_message("Alice", text)

    assert parts == [HEADER + text]
    assert len(parts[0]) == TELEGRAM_TEXT_LIMIT


def test_one_character_over_the_limit_makes_two_parts():
    text = "x" * (TELEGRAM_TEXT_LIMIT - len(HEADER) + 1)

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert [len(part) for part in parts] == [TELEGRAM_TEXT_LIMIT, 1]


def test_cuts_after_the_last_line_break_that_fits():
    header = format_header("A")
    text = "aaa bbb\nccc ddd\neee fff"

    parts = split_message("A", text, limit=len(header) + 14)

    check_parts(parts, text, limit=len(header) + 14, header=header)
    assert parts == [header + "aaa bbb\n", "ccc ddd\neee fff"]


def test_line_break_is_preferred_to_a_later_space():
    header = format_header("A")
    text = "one\n" + "two three four five"

    parts = split_message("A", text, limit=len(header) + 12)

    check_parts(parts, text, limit=len(header) + 12, header=header)
    assert parts[0] == header + "one\n"


def test_cuts_after_the_last_space_when_no_line_break_fits():
    header = format_header("A")
    text = "alpha beta gamma delta epsilon"

    parts = split_message("A", text, limit=len(header) + 12)

    check_parts(parts, text, limit=len(header) + 12, header=header)
    assert parts[0] == header + "alpha beta "
    assert all(part.endswith(" ") for part in parts[:-1])
    # No word is cut.
    assert [word for part in parts[1:] for word in part.split()] == text.split()[2:]


def test_text_without_any_separator_is_cut_at_the_limit():
    text = "x" * 10000

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert [utf16_len(part) for part in parts[:-1]] == [TELEGRAM_TEXT_LIMIT] * (len(parts) - 1)
    assert len(parts) == 3


def test_header_line_break_is_not_taken_as_a_cut_for_an_unbroken_text():
    # The only line break in the first window is the header's own: cutting there
    # would send the header alone, so the cut falls later.
    text = "y" * 5000

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert parts[0] != HEADER
    assert utf16_len(parts[0]) == TELEGRAM_TEXT_LIMIT


def test_line_break_as_the_last_character_that_fits_ends_a_full_part():
    body_room = TELEGRAM_TEXT_LIMIT - len(HEADER)
    text = "a" * (body_room - 1) + "\n" + "b" * 100

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert parts == [HEADER + "a" * (body_room - 1) + "\n", "b" * 100]
    assert len(parts[0]) == TELEGRAM_TEXT_LIMIT


def test_space_just_past_the_limit_starts_the_next_part():
    body_room = TELEGRAM_TEXT_LIMIT - len(HEADER)
    text = "a" * body_room + " tail"

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert parts == [HEADER + "a" * body_room, " tail"]


def test_separator_opening_a_later_window_never_makes_an_empty_part():
    header = format_header("A")
    limit = len(header) + 8
    # The second window starts with the line break and has no other separator.
    text = "z" * 8 + "\n" + "z" * 100

    parts = split_message("A", text, limit=limit)

    check_parts(parts, text, limit=limit, header=header)
    assert parts[0] == header + "z" * 8
    assert parts[1] == "\n" + "z" * (limit - 1)


def test_surrogate_pair_straddling_the_limit_moves_whole_to_the_next_part():
    body_room = TELEGRAM_TEXT_LIMIT - len(HEADER)
    # An odd number of units is left for two-unit emoji: the last one cannot fit.
    if body_room % 2 == 0:
        prefix = "x"
        body_room -= 1
    else:
        prefix = ""
    text = prefix + GRINNING * 3000

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert utf16_len(parts[0]) == TELEGRAM_TEXT_LIMIT - 1
    assert parts[1].startswith(GRINNING)


@pytest.mark.parametrize("limit", [5, 6, 7, 11, 12, 13, 4096])
@pytest.mark.parametrize("unit", [GRINNING, FAMILY, FLAG, "я" + GRINNING, FAMILY + " ", FLAG + "\n"])
def test_emoji_runs_split_on_code_points_and_rejoin_exactly(unit, limit):
    header = format_header("A")
    text = unit * (3 * (limit + 50) // len(unit) + 1)

    parts = split_message("A", text, limit=limit + len(header))

    check_parts(parts, text, limit=limit + len(header), header=header)


def test_custom_limit_is_honoured_for_the_header_part_too():
    header = format_header("Alice")

    parts = split_message("Alice", "word " * 40, limit=len(header) + 1)

    check_parts(parts, "word " * 40, limit=len(header) + 1, header=header)


@pytest.mark.parametrize("length", [4000, 4096, 8191, 10000, 32768])
def test_realistic_texts_split_on_line_breaks(length):
    text = lines_of_words(length)

    parts = split_message("Alice", text)

    check_parts(parts, text)
    assert all(part.endswith("\n") for part in parts[:-1])


# -- delivery of a long text ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_10000_character_text_is_delivered_in_order_split_on_lines(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    text = lines_of_words(10000)
    assert len(text) == 10000

    body = post_text(alice_api, text)

    message = get_message(alice_api, body["id"])
    assert message["status"] == "sent"
    assert message["text"] == text
    sent = tg.sent(chat_id=ALICE_CHAT)
    assert len(sent) == 3
    assert texts(sent) == split_message("Alice", text)
    assert "".join(texts(sent)) == HEADER + text
    assert sent[0]["text"].startswith(HEADER)
    assert all(HEADER not in record["text"] for record in sent[1:])
    assert all(len(record["text"]) <= 4096 for record in sent)
    assert all(record["text"].endswith("\n") for record in sent[:-1])
    assert all("parse_mode" not in record for record in sent)
    row = stored(body["id"])
    assert row.parts_sent == 3
    assert row.telegram_message_ids == [record["message_id"] for record in sent]


@pytest.mark.django_db(transaction=True)
def test_single_long_line_is_delivered_split_on_words(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    text = " ".join(f"word{index}" for index in range(1500))

    post_text(alice_api, text)

    sent = texts(tg.sent(chat_id=ALICE_CHAT))
    assert len(sent) >= 3
    assert sent[0].startswith(HEADER + "word0 word1 ")
    assert "".join(sent) == HEADER + text
    # Every cut falls after a space, so no word is broken.
    assert all(part.endswith(" ") for part in sent[:-1])


@pytest.mark.django_db(transaction=True)
def test_longest_accepted_text_of_emoji_is_delivered_whole(tg, alice, alice_api):
    link(alice, ALICE_CHAT)
    text = ((FAMILY + FLAG + GRINNING + " ") * 3000)[:32768]

    body = post_text(alice_api, text)

    assert get_message(alice_api, body["id"])["status"] == "sent"
    sent = texts(tg.sent(chat_id=ALICE_CHAT))
    assert "".join(sent) == HEADER + text
    assert all(utf16_len(part) <= 4096 for part in sent)


@pytest.mark.django_db(transaction=True)
def test_long_blank_run_inside_a_text_does_not_stop_delivery(tg, alice, alice_api):
    # A part made only of blank characters is refused by Telegram ("message
    # text is empty"); the visible text after the run must still arrive.
    link(alice, ALICE_CHAT)
    text = "before" + "\n" * 9000 + "after"
    parts = split_message("Alice", text)
    assert any(not part.strip() for part in parts)

    body = post_text(alice_api, text)

    message = get_message(alice_api, body["id"])
    assert message["status"] == "sent", message["error"]
    sent = texts(tg.sent(chat_id=ALICE_CHAT))
    assert sent == [part for part in parts if part.strip()]
    assert sent[0].startswith(HEADER + "before")
    assert sent[-1].endswith("after")
