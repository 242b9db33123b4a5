"""Markdown and Telegram's HTML to plain text with entities in UTF-16 units, and splitting that keeps them valid."""

from itertools import accumulate, combinations

import pytest

from fakegram.entities import check_entities as telegram_check_entities
from relay.formatting import Formatted, render, shift, split, utf16_len
from relay.splitting import split_text

# Telegram turns control characters into spaces, then strips spaces and line breaks from both ends.
TELEGRAM_BLANK = "".join(map(chr, range(0x21)))
TYPES = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "text_link",
    "blockquote",
    "expandable_blockquote",
}
STYLES = {"bold", "italic", "underline", "strikethrough", "spoiler"}
CODE = {"code", "pre"}
QUOTES = {"blockquote", "expandable_blockquote"}
ROCKET = "🚀"  # one code point, two UTF-16 units


def entity(type: str, offset: int, length: int, **extra: str) -> dict:
    return {"type": type, "offset": offset, "length": length, **extra}


def covered(text: str, item: dict) -> str:
    """The characters `item` covers, found by UTF-16 units as Telegram finds them."""
    units = text.encode("utf-16-le")
    return units[2 * item["offset"] : 2 * (item["offset"] + item["length"])].decode("utf-16-le")


def check_entities(text: str, entities: list[dict]) -> None:
    """What Telegram requires of entities: in range, whole characters, sorted, nested or apart, as allowed."""
    # The simulated Telegram neither refuses them (it raises), drops them, nor finds anything to repair.
    kept, problems = telegram_check_entities(text, entities)
    assert problems == []
    assert len(kept) == len(entities)
    size = utf16_len(text)
    boundaries = set(accumulate((utf16_len(char) for char in text), initial=0))
    assert entities == sorted(entities, key=lambda item: (item["offset"], -item["length"]))
    for item in entities:
        assert item["type"] in TYPES
        assert set(item) <= {"type", "offset", "length", "url", "language"}
        assert item["offset"] >= 0
        assert item["length"] > 0
        assert item["offset"] + item["length"] <= size
        assert {item["offset"], item["offset"] + item["length"]} <= boundaries, "inside a surrogate pair"
        if item["type"] == "text_link":
            assert item["url"].split(":")[0].lower() in {"http", "https", "tg"}
    for first, second in combinations(entities, 2):
        a = (first["offset"], first["offset"] + first["length"])
        b = (second["offset"], second["offset"] + second["length"])
        if a[1] <= b[0] or b[1] <= a[0]:
            continue
        assert (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1]), ("overlap", first, second)
        outer, inner = (first, second) if a[0] < b[0] or a[1] > b[1] else (second, first)
        # The same range counts as nested either way round.
        assert may_hold(outer["type"], inner["type"]) or (a == b and may_hold(inner["type"], outer["type"])), (
            first,
            second,
        )


def may_hold(outer: str, inner: str) -> bool:
    """The Bot API's rules: nothing inside code or pre; code, pre and links in a quote only; quotes not nested."""
    if outer in CODE:
        return False
    if inner in CODE:
        return outer in QUOTES
    if inner == "text_link":
        return outer in STYLES | QUOTES
    if inner in QUOTES:
        return outer in STYLES
    return True


def check_formatted(result: Formatted) -> None:
    """What render promises: valid entities over a trimmed text, none of them blank."""
    assert result.text == result.text.strip(TELEGRAM_BLANK)
    check_entities(result.text, result.entities)
    for item in result.entities:
        assert covered(result.text, item).strip(TELEGRAM_BLANK), item


def rendered(text: str, format: str) -> tuple[str, list[tuple[str, str]]]:
    """The text and, for each entity, its type and the characters it covers: what a reader sees."""
    result = render(text, format)
    check_formatted(result)
    return result.text, [(item["type"], covered(result.text, item)) for item in result.entities]


# -- Plain text -------------------------------------------------------------------------------------------


def test_plain_text_is_shown_as_it_is():
    text = "*not bold* <b>not bold</b> &amp; [no](https://example.com)"

    assert render(text) == Formatted(text, [])
    assert render(text, "text") == Formatted(text, [])


def test_plain_text_loses_the_blanks_telegram_strips_from_both_ends():
    assert render(" \n\t hello,\n  world \r\n ") == Formatted("hello,\n  world", [])


def test_a_lone_surrogate_becomes_a_replacement_character():
    # json.loads('"\\ud83d"') gives one, and it cannot be encoded to send.
    for format in ("text", "markdown", "html"):
        result = render("a \ud83d b", format)

        assert result.text == "a \ufffd b"
        result.text.encode("utf-8")


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format"):
        render("x", "markdownv2")


# -- Markdown ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("**bold** rest", "bold rest", [entity("bold", 0, 4)]),
        ("__bold__ rest", "bold rest", [entity("bold", 0, 4)]),
        ("*it* rest", "it rest", [entity("italic", 0, 2)]),
        ("_it_ rest", "it rest", [entity("italic", 0, 2)]),
        ("~~gone~~ rest", "gone rest", [entity("strikethrough", 0, 4)]),
        ("run `ls -l` now", "run ls -l now", [entity("code", 4, 5)]),
        ("[site](https://example.com/a?b=1)", "site", [entity("text_link", 0, 4, url="https://example.com/a?b=1")]),
        ("[me](tg://resolve?domain=relay)", "me", [entity("text_link", 0, 2, url="tg://resolve?domain=relay")]),
        ("<https://example.com>", "https://example.com", [entity("text_link", 0, 19, url="https://example.com")]),
        # Telegram takes no mailto: text link; it finds the address in the text by itself.
        ("<me@example.com>", "me@example.com", []),
        ("[write](mailto:me@example.com)", "write (me@example.com)", []),
        ("# Title", "Title", [entity("bold", 0, 5)]),
        ("> quoted", "quoted", [entity("blockquote", 0, 6)]),
    ],
)
def test_markdown_constructs(source, text, entities):
    result = render(source, "markdown")

    assert result == Formatted(text, entities)
    check_formatted(result)


def test_markdown_fenced_code_is_pre_with_the_language_of_its_info_string():
    source = "Before:\n\n```python title\nx = **1**\n  y = 2\n```\n\nAfter"

    result = render(source, "markdown")

    assert result.text == "Before:\n\nx = **1**\n  y = 2\n\nAfter"
    assert result.entities == [entity("pre", 9, 17, language="python")]


def test_markdown_indented_code_is_pre_without_a_language():
    result = render("Code:\n\n    a = 1\n    b = 2\n", "markdown")

    assert result == Formatted("Code:\n\na = 1\nb = 2", [entity("pre", 7, 11)])


def test_markdown_heading_is_a_bold_line_and_paragraphs_are_separated_by_a_blank_line():
    text, entities = rendered("## Report\nfirst paragraph\nsame paragraph\n\nsecond", "markdown")

    assert text == "Report\n\nfirst paragraph\nsame paragraph\n\nsecond"
    assert entities == [("bold", "Report")]


def test_markdown_hard_line_break_is_a_line_break():
    assert render("one  \ntwo\\\nthree", "markdown").text == "one\ntwo\nthree"


def test_markdown_lists_get_bullets_and_numbers():
    source = "Items:\n\n- apple\n- pear\n  - small\n\n3. third\n4. fourth\n\nEnd"

    assert render(source, "markdown").text == "Items:\n\n• apple\n• pear\n  • small\n\n3. third\n4. fourth\n\nEnd"


def test_markdown_loose_list_items_keep_their_marker_on_the_first_line():
    assert render("- one\n\n- two", "markdown").text == "• one\n• two"


def test_markdown_quote_covers_all_its_paragraphs_and_keeps_inner_formatting():
    text, entities = rendered("> first **bold**\n>\n> second\n\nafter", "markdown")

    assert text == "first bold\n\nsecond\n\nafter"
    assert entities == [("blockquote", "first bold\n\nsecond"), ("bold", "bold")]


def test_markdown_quote_inside_a_quote_is_one_quote():
    text, entities = rendered("> outer\n>> inner", "markdown")

    assert text == "outer\n\ninner"
    assert entities == [("blockquote", "outer\n\ninner")]


def test_markdown_thematic_break_is_a_line_of_dashes():
    assert render("above\n\n---\n\nbelow", "markdown").text == "above\n\n———\n\nbelow"


def test_markdown_image_is_its_alt_text_linking_to_the_image():
    result = render("see ![a *cat*](https://example.com/cat.png)", "markdown")

    assert result == Formatted(
        "see a cat",
        [entity("text_link", 4, 5, url="https://example.com/cat.png"), entity("italic", 6, 3)],
    )


def test_markdown_image_without_alt_text_shows_its_address():
    assert render("![](https://example.com/cat.png)", "markdown") == Formatted("https://example.com/cat.png", [])


@pytest.mark.parametrize(
    "source",
    ["[click](javascript:alert(1))", "[click](JAVASCRIPT:alert(1))", "[click](data:text/html,x)", "[click](page.html)"],
)
def test_markdown_link_to_an_unsafe_or_relative_address_is_plain_text(source):
    assert render(source, "markdown") == Formatted("click", [])


def test_markdown_raw_html_is_shown_as_text():
    source = '<b>not bold</b> <a href="https://example.com">x</a>\n\n<div>\nblock\n</div>'

    assert render(source, "markdown") == Formatted(
        '<b>not bold</b> <a href="https://example.com">x</a>\n\n<div>\nblock\n</div>', []
    )


def test_markdown_bold_inside_a_link_and_italic_inside_bold():
    text, entities = rendered("[go **now *please***](https://example.com)", "markdown")

    assert text == "go now please"
    assert entities == [("text_link", "go now please"), ("bold", "now please"), ("italic", "please")]


def test_markdown_bold_around_code_leaves_the_code_out():
    # Telegram allows nothing inside code: the bold goes on each side of it.
    text, entities = rendered("**run `make` again**", "markdown")

    assert text == "run make again"
    assert entities == [("bold", "run "), ("code", "make"), ("bold", " again")]


def test_markdown_code_inside_a_link_keeps_the_link():
    text, entities = rendered("[`api`](https://example.com/api)", "markdown")

    assert text == "api"
    assert entities == [("text_link", "api")]


def test_markdown_unbalanced_markers_are_text():
    assert render("**bold and *it", "markdown") == Formatted("**bold and *it", [])


def test_markdown_offsets_count_utf16_units():
    result = render(f"{ROCKET} **ракета** {ROCKET} `код`", "markdown")

    assert result.text == f"{ROCKET} ракета {ROCKET} код"
    # The rocket before the bold takes two units; "ракета" is one unit a letter.
    assert result.entities == [entity("bold", 3, 6), entity("code", 13, 3)]
    assert [covered(result.text, item) for item in result.entities] == ["ракета", "код"]


def test_markdown_blank_entities_and_blank_ends_are_dropped():
    result = render("\n\n a ` ` [ ](https://example.com) b \n\n", "markdown")

    assert result == Formatted("a" + " " * 5 + "b", [])


# -- Telegram's HTML --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "type"),
    [
        ("b", "bold"),
        ("strong", "bold"),
        ("i", "italic"),
        ("em", "italic"),
        ("u", "underline"),
        ("ins", "underline"),
        ("s", "strikethrough"),
        ("strike", "strikethrough"),
        ("del", "strikethrough"),
        ("tg-spoiler", "spoiler"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
    ],
)
def test_html_tags(tag, type):
    result = render(f"say <{tag}>this</{tag}> now", "html")

    assert result == Formatted("say this now", [entity(type, 4, 4)])


def test_html_span_with_the_spoiler_class_is_a_spoiler_and_other_spans_are_nothing():
    result = render('<span class="tg-spoiler">hidden</span> <span class="x">shown</span>', "html")

    assert result == Formatted("hidden shown", [entity("spoiler", 0, 6)])


def test_html_expandable_blockquote():
    result = render("<blockquote expandable>long quote</blockquote>", "html")

    assert result == Formatted("long quote", [entity("expandable_blockquote", 0, 10)])


def test_html_pre_with_code_in_a_language():
    result = render('<pre><code class="language-python">print("hi")</code></pre>', "html")

    assert result == Formatted('print("hi")', [entity("pre", 0, 11, language="python")])


def test_html_links():
    result = render('<a href="https://example.com/?a=1&amp;b=2">site</a>, <a href="tg://user?id=42">user</a>', "html")

    assert result == Formatted(
        "site, user",
        [
            entity("text_link", 0, 4, url="https://example.com/?a=1&b=2"),
            entity("text_link", 6, 4, url="tg://user?id=42"),
        ],
    )


def test_html_mail_link_is_its_text_then_the_address():
    # Telegram refuses a mailto: text link, and finds an address in the text by itself.
    result = render(
        '<a href="mailto:me@example.com"><b>mail</b> us</a>, <a href="mailto:me@example.com">me@example.com</a>',
        "html",
    )

    assert result == Formatted("mail us (me@example.com), me@example.com", [entity("bold", 0, 4)])


@pytest.mark.parametrize(
    "href", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "x", "/relative", "https://", ""]
)
def test_html_link_to_an_unsafe_or_incomplete_address_is_plain_text(href):
    assert render(f'<a href="{href}">click</a>', "html") == Formatted("click", [])


def test_html_line_breaks_and_character_references():
    result = render("a &amp; b &lt;tag&gt;<br>&#x1F680; &#128640; &quot;q&quot;<br/><b>end</b>", "html")

    assert result.text == f'a & b <tag>\n{ROCKET} {ROCKET} "q"\nend'
    # Two rockets of two units each before "end".
    assert result.entities == [entity("bold", 22, 3)]
    assert covered(result.text, result.entities[0]) == "end"


def test_html_unknown_tags_are_dropped_keeping_their_text():
    result = render("<p>one <b>two</b></p><div>three <blink>four</blink></div>", "html")

    assert result == Formatted("one twothree four", [entity("bold", 4, 3)])


def test_html_nesting_bold_inside_a_link_and_italic_inside_bold():
    text, entities = rendered('<a href="https://example.com"><b>go <i>now</i></b> please</a>', "html")

    assert text == "go now please"
    assert entities == [("text_link", "go now please"), ("bold", "go now"), ("italic", "now")]


def test_html_cyrillic_and_emoji_offsets():
    result = render(f"Привет {ROCKET}<b>мир</b> <i>{ROCKET}</i>", "html")

    assert result.entities == [entity("bold", 9, 3), entity("italic", 13, 2)]
    assert [covered(result.text, item) for item in result.entities] == ["мир", ROCKET]


def test_html_unclosed_tag_lasts_to_the_end():
    assert render("<b>unclosed", "html") == Formatted("unclosed", [entity("bold", 0, 8)])


def test_html_stray_closing_tag_is_ignored():
    assert render("</i>stray", "html") == Formatted("stray", [])


def test_html_link_without_a_usable_address_is_its_text():
    assert render("<a href=x>text", "html") == Formatted("text", [])


def test_html_closing_an_outer_tag_closes_the_inner_ones():
    text, entities = rendered("<b><i>both</b> plain</i> end", "html")

    assert text == "both plain end"
    assert entities == [("bold", "both"), ("italic", "both")]


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("a < b and c > d", "a < b and c > d"),
        ("x<y", "x<y"),
        ("5 &lt 6 & 7", "5 < 6 & 7"),
        ("<![if word]>shown", "<![if word]>shown"),
        ("<![CDATA[data]]>", "<![CDATA[data]]>"),
        ("<!-- note -->visible", "visible"),
        ("<b", "<b"),
        ("<a href='https://example.com'", "<a href='https://example.com'"),
    ],
)
def test_html_broken_markup_is_text(source, text):
    result = render(source, "html")

    assert result.text == text
    check_formatted(result)


def test_html_quote_inside_a_quote_and_link_inside_a_link_keep_only_the_outer_one():
    text, entities = rendered(
        '<blockquote>a <blockquote>b</blockquote></blockquote> <a href="https://a.example">c '
        '<a href="https://b.example">d</a></a>',
        "html",
    )

    assert text == "a b c d"
    assert entities == [("blockquote", "a b"), ("text_link", "c d")]


def test_html_nothing_stays_inside_code():
    text, entities = rendered('<code>x <b>y</b> <a href="https://example.com">z</a></code>', "html")

    assert text == "x y z"
    assert entities == [("code", "x y z")]


def test_html_bold_around_a_quote_holding_a_pre_is_cut_to_nest():
    text, entities = rendered("<b>a <blockquote>q <pre>p</pre> r</blockquote> z</b>", "html")

    assert text == "a q p r z"
    assert entities == [
        ("bold", "a "),
        ("blockquote", "q p r"),
        ("bold", "q "),
        ("pre", "p"),
        ("bold", " r"),
        ("bold", " z"),
    ]


def test_html_blank_ends_are_trimmed_and_offsets_follow():
    result = render("  \n <b>bold</b> text <i> </i>\n ", "html")

    assert result == Formatted("bold text", [entity("bold", 0, 4)])


def test_html_empty_and_blank_elements_give_no_entity():
    assert render("a<b></b><i> \n </i><code>  </code>b", "html") == Formatted("a \n   b", [])


# -- shift and split --------------------------------------------------------------------------------------


def test_shift_moves_offsets_and_keeps_the_rest():
    entities = [entity("bold", 0, 4), entity("text_link", 5, 2, url="https://example.com")]

    assert shift(entities, 10) == [entity("bold", 10, 4), entity("text_link", 15, 2, url="https://example.com")]
    assert entities[0]["offset"] == 0


def test_split_without_entities_cuts_like_split_text():
    text = "alpha beta\ngamma delta epsilon " + ROCKET * 7 + " zeta"

    for limit in (2, 3, 5, 8, 13, 40):
        assert split(text, [], limit) == [(part, []) for part in split_text("", text, limit)]


def test_split_with_a_start_does_not_cut_the_header_off_alone():
    header, body = "Alice, message:\n", "x" * 30

    parts = split(header + body, [entity("bold", 16, 30)], limit=20, start=len(header))

    assert [part for part, _ in parts] == split_text(header, body, 20)
    assert parts[0][0] != header
    assert parts == [
        (header + "xxxx", [entity("bold", 16, 4)]),
        ("x" * 20, [entity("bold", 0, 20)]),
        ("x" * 6, [entity("bold", 0, 6)]),
    ]


def test_split_entity_across_the_cut_becomes_one_piece_on_each_side():
    text = "alpha beta gamma"
    entities = [entity("bold", 6, 10), entity("text_link", 0, 5, url="https://example.com")]

    parts = split(text, entities, limit=11)

    assert parts == [
        ("alpha beta ", [entity("text_link", 0, 5, url="https://example.com"), entity("bold", 6, 5)]),
        ("gamma", [entity("bold", 0, 5)]),
    ]


def test_split_never_cuts_a_surrogate_pair_and_counts_its_units():
    text = ROCKET * 5
    parts = split(text, [entity("italic", 0, 10)], limit=5)

    assert parts == [
        (ROCKET * 2, [entity("italic", 0, 4)]),
        (ROCKET * 2, [entity("italic", 0, 4)]),
        (ROCKET, [entity("italic", 0, 2)]),
    ]


def test_split_keeps_a_pre_from_being_left_with_only_blanks():
    # Cutting after the last space that fits would leave "   " of the pre in the first part,
    # which Telegram drops; the cut moves to where the pre begins.
    text = "abc   xyz"

    parts = split(text, [entity("pre", 3, 6)], limit=7)

    assert parts == [("abc", []), ("   xyz", [entity("pre", 0, 6)])]
    assert [part for part, _ in split(text, [], limit=7)] == ["abc   ", "xyz"]


def test_split_of_a_rendered_message_keeps_every_piece_valid():
    source = "\n\n".join(f"**Part {n}** with [a link](https://example.com/{n}) and `code {n}`" for n in range(40))
    result = render(source, "markdown")

    parts = split(result.text, result.entities, limit=100)

    assert "".join(part for part, _ in parts) == result.text
    for part, entities in parts:
        assert utf16_len(part) <= 100
        check_entities(part, entities)
    links = {item["url"] for _, entities in parts for item in entities if item["type"] == "text_link"}
    assert links == {f"https://example.com/{n}" for n in range(40)}


def test_split_refuses_a_limit_too_small_for_an_emoji():
    with pytest.raises(ValueError):
        split(ROCKET, [], limit=1)
