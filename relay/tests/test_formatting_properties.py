"""Property-based: any text in any format renders to entities Telegram accepts, and splitting keeps them so.

Inputs are arbitrary text, a soup of markup fragments (tags, markers, references, broken pieces), and
well-formed markdown and HTML built from words, whose visible text is known: the words in order.
"""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from relay.formatting import render, shift, split, utf16_len
from relay.splitting import split_text
from relay.tests.test_formatting import TELEGRAM_BLANK, check_entities, check_formatted

FORMATS = st.sampled_from(["text", "markdown", "html"])
ROCKET = "🚀"

FRAGMENTS = st.sampled_from(
    [
        *[
            "<b>",
            "</b>",
            "<i>",
            "</i>",
            "<u>",
            "<s>",
            "</s>",
            "<tg-spoiler>",
            "</tg-spoiler>",
            '<span class="tg-spoiler">',
        ],
        *["<code>", "</code>", "<pre>", "</pre>", '<code class="language-py">', "<blockquote>", "</blockquote>"],
        *["<blockquote expandable>", '<a href="https://example.com">', '<a href="javascript:x">', "<a href=", "</a>"],
        *["<br>", "<br/>", "</", "<", ">", "<![", "<!--", "&amp;", "&lt;", "&#x1F680;", "&#xD800;", "&", "&#"],
        *["**", "*", "_", "__", "~~", "`", "```", "```py\n", "\n", "\n\n", "  \n", " ", "\t", "\r\n"],
        *["# ", "> ", "- ", "1. ", "---", "    ", "[", "]", "](", "(https://example.com)", "<https://x.io>"],
        *["![", "word", "слово", ROCKET, "\u200d", "\xa0", "\x00", "\ud800"],
    ]
)
SOUP = st.lists(FRAGMENTS | st.text(max_size=3), max_size=60).map("".join)
ANY_TEXT = st.text(max_size=200) | SOUP

WORDS = st.text(alphabet="abcxyzабвгдеж0123456789" + ROCKET + "😀", min_size=1, max_size=6)


def joined(pieces: list[tuple[str, list[str]]], separator: str = " ") -> tuple[str, list[str]]:
    return separator.join(source for source, _ in pieces), [word for _, words in pieces for word in words]


# Markdown from building blocks: (source, the words a reader sees).

MARKDOWN_WORD = WORDS.map(lambda word: (word, [word]))
MARKDOWN_INLINE = st.one_of(
    MARKDOWN_WORD,
    MARKDOWN_WORD.map(lambda piece: (f"**{piece[0]}**", piece[1])),
    MARKDOWN_WORD.map(lambda piece: (f"*{piece[0]}*", piece[1])),
    MARKDOWN_WORD.map(lambda piece: (f"~~{piece[0]}~~", piece[1])),
    MARKDOWN_WORD.map(lambda piece: (f"`{piece[0]}`", piece[1])),
    MARKDOWN_WORD.map(lambda piece: (f"[{piece[0]}](https://example.com/{piece[0]})", piece[1])),
    MARKDOWN_WORD.map(lambda piece: (f"[{piece[0]}](javascript:alert(1))", piece[1])),
    MARKDOWN_WORD.map(lambda piece: (f"[{piece[0]}](mailto:me@example.com)", [*piece[1], "(me@example.com)"])),
    MARKDOWN_WORD.map(lambda piece: (f"![{piece[0]}](https://example.com/a.png)", piece[1])),
    st.lists(MARKDOWN_WORD, min_size=1, max_size=3)
    .map(joined)
    .map(lambda piece: (f"**a *{piece[0]}* b**", ["a", *piece[1], "b"])),
    st.lists(MARKDOWN_WORD, min_size=1, max_size=3)
    .map(joined)
    .map(lambda piece: (f"[go **{piece[0]}**](https://example.com)", ["go", *piece[1]])),
)
MARKDOWN_LINE = st.lists(MARKDOWN_INLINE, min_size=1, max_size=6).map(joined)
MARKDOWN_BLOCK = st.one_of(
    MARKDOWN_LINE,
    MARKDOWN_LINE.map(lambda line: (f"# {line[0]}", line[1])),
    MARKDOWN_LINE.map(lambda line: (f"> {line[0]}", line[1])),
    st.lists(MARKDOWN_LINE, min_size=1, max_size=4).map(
        lambda lines: joined([(f"- {source}", ["•", *words]) for source, words in lines], "\n")
    ),
    st.lists(MARKDOWN_LINE, min_size=1, max_size=4).map(
        lambda lines: joined(
            [(f"{n}. {source}", [f"{n}.", *words]) for n, (source, words) in enumerate(lines, 1)], "\n"
        )
    ),
    st.lists(WORDS, min_size=1, max_size=5).map(lambda words: ("```py\n" + " ".join(words) + "\n```", words)),
    st.just(("---", ["———"])),
)
MARKDOWN_DOCUMENTS = st.lists(MARKDOWN_BLOCK, min_size=1, max_size=6).map(lambda blocks: joined(blocks, "\n\n"))

# HTML from building blocks.

# Each wraps its children and adds nothing to see, but a mail link, which shows its address after its text.
HTML_WRAPPERS = [
    *[
        (template, [])
        for template in [
            "<b>{}</b>",
            "<strong>{}</strong>",
            "<i>{}</i>",
            "<em>{}</em>",
            "<u>{}</u>",
            "<ins>{}</ins>",
            "<s>{}</s>",
            "<strike>{}</strike>",
            "<del>{}</del>",
            "<tg-spoiler>{}</tg-spoiler>",
            '<span class="tg-spoiler">{}</span>',
            "<code>{}</code>",
            "<pre>{}</pre>",
            '<pre><code class="language-python">{}</code></pre>',
            '<a href="https://example.com/?a=1&amp;b=2">{}</a>',
            '<a href="javascript:alert(1)">{}</a>',
            "<blockquote>{}</blockquote>",
            "<blockquote expandable>{}</blockquote>",
            "<x-unknown>{}</x-unknown>",
            "<p>{}</p>",
        ]
    ],
    ('<a href="mailto:me@example.com">{}</a>', ["(me@example.com)"]),
]
HTML_LEAVES = st.one_of(
    WORDS.map(lambda word: (word, [word])),
    st.sampled_from([("&amp;", ["&"]), ("&lt;b&gt;", ["<b>"]), ("&#x1F680;", [ROCKET]), ("<br>", [])]),
)


def wrapped(wrapper: tuple[str, list[str]], children: list[tuple[str, list[str]]]) -> tuple[str, list[str]]:
    (template, after), (source, words) = wrapper, joined(children)
    return template.format(source), words + after


HTML_DOCUMENTS = st.recursive(
    HTML_LEAVES,
    lambda children: st.builds(wrapped, st.sampled_from(HTML_WRAPPERS), st.lists(children, min_size=1, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT, format=FORMATS)
@example(text="<b>a <blockquote>q <pre>p</pre> r</blockquote> z</b>", format="html")
@example(text="<![if x]><b>y", format="html")
@example(text="<b><code>0</code> <i>0 <blockquote>0</blockquote></i></b>", format="html")
@example(text="> ```\n> x\n> ```\n>> **`y`**", format="markdown")
def test_render_never_fails_and_gives_only_entities_telegram_accepts(text, format):
    check_formatted(render(text, format))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_plain_text_is_the_text_without_its_blank_ends(text):
    result = render(text, "text")

    assert result.text == text.strip(TELEGRAM_BLANK)
    assert result.entities == []


@settings(max_examples=150, deadline=None)
@given(document=MARKDOWN_DOCUMENTS)
def test_markdown_built_from_words_shows_the_words_in_order(document):
    source, words = document

    result = render(source, "markdown")

    check_formatted(result)
    # Lists of one kind next to each other are one list: its numbers run on.
    assert without_list_markers(result.text.split()) == without_list_markers(words)


def without_list_markers(words: list[str]) -> list[str]:
    return [word for word in words if word != "•" and not (word.endswith(".") and word[:-1].isdigit())]


@settings(max_examples=150, deadline=None)
@given(document=HTML_DOCUMENTS)
def test_html_built_from_words_shows_the_words_in_order(document):
    source, words = document

    result = render(source, "html")

    check_formatted(result)
    assert result.text.split() == words


def coverage(parts: list[tuple[str, list[dict]]]) -> set[tuple]:
    """Every (entity kind, UTF-16 unit of the whole text) that some entity covers."""
    covered, at = set(), 0
    for part, entities in parts:
        for item in entities:
            kind = (item["type"], item.get("url"), item.get("language"))
            covered.update((kind, at + unit) for unit in range(item["offset"], item["offset"] + item["length"]))
        at += utf16_len(part)
    return covered


@settings(max_examples=200, deadline=None)
@given(
    source=st.one_of(ANY_TEXT, MARKDOWN_DOCUMENTS.map(lambda document: document[0])),
    format=FORMATS,
    limit=st.integers(min_value=2, max_value=60),
)
@example(source="abc   ```\n   xyz\n```", format="markdown", limit=7)
def test_split_parts_rejoin_fit_and_keep_every_entity(source, format, limit):
    result = render(source, format)

    parts = split(result.text, result.entities, limit)

    assert "".join(part for part, _ in parts) == result.text
    for part, entities in parts:
        assert part or len(parts) == 1
        assert utf16_len(part) <= limit
        check_entities(part, entities)
    assert coverage(parts) == coverage([(result.text, result.entities)])
    if not any(item["type"] in ("code", "pre") for item in result.entities):
        # Only code moves a cut: elsewhere the parts are split_text's.
        assert [part for part, _ in parts] == split_text("", result.text, limit)


@settings(max_examples=200, deadline=None)
# split_text, like Telegram, takes no lone surrogate: render replaces them first.
@given(
    text=st.text(max_size=300) | SOUP.map(render).map(lambda result: result.text),
    limit=st.integers(2, 80),
    data=st.data(),
)
def test_split_without_entities_is_split_text(text, limit, data):
    start = data.draw(st.integers(min_value=0, max_value=len(text)))

    parts = split(text, [], limit, start)

    assert parts == [(part, []) for part in split_text(text[:start], text[start:], limit)]


@settings(max_examples=100, deadline=None)
@given(
    header=st.text(min_size=1, max_size=30).map(lambda name: f"{name}, message:\n"),
    document=MARKDOWN_DOCUMENTS,
    room=st.integers(min_value=2, max_value=40),
)
def test_a_header_before_a_rendered_text_opens_the_first_part_and_is_never_alone(header, document, room):
    result = render(document[0], "markdown")
    text = header + result.text
    limit = utf16_len(header) + room

    parts = split(text, shift(result.entities, utf16_len(header)), limit, start=len(header))

    assert parts[0][0].startswith(header)
    assert parts[0][0] != header or not result.text
    assert "".join(part for part, _ in parts) == text
    assert coverage(parts) == coverage([(text, shift(result.entities, utf16_len(header)))])
    for part, entities in parts:
        assert utf16_len(part) <= limit
        check_entities(part, entities)
