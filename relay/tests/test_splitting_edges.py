"""Edges of splitting that no test checked: the last and first code points around the BMP edge, a cut at index 1."""

from relay.splitting import format_header, split_message, utf16_len
from relay.tests.test_splitting import check_parts

LAST_BMP = "\uffff"  # the highest code point of one UTF-16 unit
FIRST_ASTRAL = "\U00010000"  # the lowest code point of two


def test_utf16_len_is_a_whole_number_of_units():
    assert utf16_len("ab" + FIRST_ASTRAL) == 4
    assert isinstance(utf16_len("ab" + FIRST_ASTRAL), int)


def test_the_last_bmp_code_point_counts_one_unit_when_cutting():
    header = format_header("A")
    limit = len(header) + 10
    text = LAST_BMP * 25

    parts = split_message("A", text, limit=limit)

    check_parts(parts, text, limit=limit, header=header)
    # Each part holds as many as fit: ten after the header, then `limit` at a time.
    assert [len(part) for part in parts] == [limit, 15]


def test_the_first_astral_code_point_counts_two_units_when_cutting():
    header = format_header("A")
    limit = len(header) + 10
    text = FIRST_ASTRAL * 25

    parts = split_message("A", text, limit=limit)

    check_parts(parts, text, limit=limit, header=header)
    # Five fit after the header (ten units), the other twenty in one part of forty units.
    assert parts == [header + FIRST_ASTRAL * 5, FIRST_ASTRAL * 20]


def test_a_space_at_index_1_of_a_later_window_is_a_cut_point():
    header = format_header("A")
    limit = len(header) + 10
    # The first part is cut hard at the limit; the next window starts "a " and
    # has no other separator, so it is cut right after that space.
    text = "y" * 10 + "a " + "z" * 60

    parts = split_message("A", text, limit=limit)

    check_parts(parts, text, limit=limit, header=header)
    assert parts[:2] == [header + "y" * 10, "a "]


def test_a_line_break_at_index_1_of_a_later_window_is_a_cut_point():
    header = format_header("A")
    limit = len(header) + 10
    text = "y" * 10 + "a\n" + "z w" * 20

    parts = split_message("A", text, limit=limit)

    check_parts(parts, text, limit=limit, header=header)
    assert parts[1] == "a\n"
