"""Formatted text for Telegram: markdown or Telegram's HTML subset turned into plain text with `entities`.

Sending entities instead of a parse_mode means nothing in the user's text needs escaping ("can't parse
entities" cannot happen), and a long message can be cut into parts that each keep their formatting.
Entity offsets and lengths count UTF-16 code units, as the Bot API does.
"""

import bisect
import itertools
import re
from collections import Counter
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.token import Token

from relay.splitting import TELEGRAM_TEXT_LIMIT, _cut_point, utf16_len

__all__ = ["FORMATS", "Formatted", "render", "shift", "split", "utf16_len"]

FORMATS = ("text", "markdown", "html")

# Telegram turns control characters into spaces and drops "\r", then strips spaces and line breaks from both
# ends of a message and ignores entities that cover nothing else.
_BLANK = "".join(map(chr, range(0x21)))

# Telegram's rules: bold, italic and the like ("style") may be anywhere but inside code or pre; code, pre and
# links hold no code, pre or link; a quote is in no code, link or quote.
_KIND = {
    "code": "code",
    "pre": "code",
    "text_link": "link",
    "blockquote": "quote",
    "expandable_blockquote": "quote",
}
_NOT_INSIDE = {
    "style": frozenset({"code"}),
    "code": frozenset({"code", "link"}),
    "link": frozenset({"code", "link"}),
    "quote": frozenset({"code", "link", "quote"}),
}

_LINK_SCHEMES = frozenset({"http", "https", "tg"})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Formatted:
    text: str
    # Bot API MessageEntity dicts, offsets and lengths in UTF-16 units, sorted by (offset, -length).
    entities: list[dict]


def render(text: str, format: str = "text") -> Formatted:
    """What Telegram should show for `text` written in `format` ("text", "markdown" or "html").

    Never fails on the text: markup it cannot read shows as text. The result holds only entities Telegram
    accepts as they are: inside the text, not empty or blank, nested or apart, nothing inside code or pre.
    """
    # A lone surrogate (a JSON "\ud800" decodes to one) cannot be sent at all.
    text = _LONE_SURROGATE.sub("\ufffd", text)
    if format == "text":
        return _finish(text, [])
    if format == "markdown":
        return _render_markdown(text)
    if format == "html":
        return _render_html(text)
    raise ValueError(f"unknown format {format!r}, expected one of {FORMATS}")


def shift(entities: list[dict], by: int) -> list[dict]:
    """The same entities `by` UTF-16 units later, for text put before theirs (a header, a title)."""
    return [{**entity, "offset": entity["offset"] + by} for entity in entities]


def split(
    text: str, entities: list[dict], limit: int = TELEGRAM_TEXT_LIMIT, start: int = 0
) -> list[tuple[str, list[dict]]]:
    """The parts to send, each with the pieces of `entities` that fall in it, offsets relative to the part.

    The parts are cut where split_text cuts them (after a line break, else after a space, else between two
    code points, never before index `start`) and joined back they are exactly `text`. An entity across a
    cut becomes one piece on each side. A cut that would leave a piece of code or pre with nothing but
    blanks, which Telegram would drop, moves back to where that code begins when the part stays non-empty.
    """
    if limit < 2:
        raise ValueError("a part must have room for a character of two UTF-16 units")
    units = _unit_offsets(text)
    code = [_span_in_code_points(entity, units) for entity in entities if entity["type"] in ("code", "pre")]
    bounds = []
    begin, floor = 0, start
    while units[-1] - units[begin] > limit:
        cut = _cut_point(text[begin : begin + limit], limit, floor)
        cut = _keep_code_visible(text, begin, cut, floor, code)
        bounds.append((begin, begin + cut))
        begin += cut
        floor = 0
    bounds.append((begin, len(text)))
    return [(text[a:b], _entities_within(entities, units[a], units[b])) for a, b in bounds]


def _keep_code_visible(text: str, begin: int, cut: int, floor: int, code: list[tuple[int, int]]) -> int:
    at = begin + cut
    for code_start, code_end in code:
        # Code entities never overlap, so at most one holds the cut.
        if code_start < at < code_end:
            before, after = text[max(code_start, begin) : at], text[at:code_end]
            if (not before.strip(_BLANK) or not after.strip(_BLANK)) and code_start - begin > floor:
                return code_start - begin
            break
    return cut


def _entities_within(entities: list[dict], part_start: int, part_end: int) -> list[dict]:
    pieces = []
    for entity in entities:
        piece_start = max(entity["offset"], part_start)
        piece_end = min(entity["offset"] + entity["length"], part_end)
        if piece_end > piece_start:
            pieces.append({**entity, "offset": piece_start - part_start, "length": piece_end - piece_start})
    pieces.sort(key=lambda piece: (piece["offset"], -piece["length"]))
    return pieces


def _unit_offsets(text: str) -> list[int]:
    """The UTF-16 offset of each code point of `text`, and of its end."""
    return list(itertools.accumulate((2 if ord(char) > 0xFFFF else 1 for char in text), initial=0))


def _span_in_code_points(entity: dict, units: list[int]) -> tuple[int, int]:
    start = bisect.bisect_left(units, entity["offset"])
    return start, bisect.bisect_left(units, entity["offset"] + entity["length"])


# -- Building text and entities ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Span:
    # Code point indices while the text is built; UTF-16 only in the result.
    start: int
    end: int
    type: str
    order: int
    url: str | None = None
    language: str | None = None


class _Builder:
    """Text written in order, with spans opened and closed around it and block breaks added lazily."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0
        self.spans: list[_Span] = []
        self._newlines_at_end = 0
        self._pending_newlines = 0
        self._after_marker = False

    def separate(self, newlines: int, *, item: bool = False) -> None:
        """Begin the next block after `newlines` line breaks (none at the very start).

        Right after a list marker only the next item breaks the line: an item's first block follows the marker.
        """
        if self._after_marker and not item:
            return
        self._pending_newlines = max(self._pending_newlines, newlines)

    def write(self, text: str) -> None:
        if not text:
            return
        self._flush()
        self._append(text)
        self._after_marker = False

    def write_marker(self, marker: str) -> None:
        self.write(marker)
        self._after_marker = True

    def open(self, type: str, *, url: str | None = None, language: str | None = None) -> _Span:
        self._flush()
        span = _Span(self.length, self.length, type, len(self.spans), url=url, language=language)
        self.spans.append(span)
        return span

    def close(self, span: _Span) -> None:
        span.end = self.length

    def mark(self) -> int:
        self._flush()
        return len(self.pieces)

    def text_since(self, mark: int) -> str:
        return "".join(self.pieces[mark:])

    def result(self) -> Formatted:
        return _finish("".join(self.pieces), self.spans)

    def _flush(self) -> None:
        missing = self._pending_newlines - self._newlines_at_end
        if self.length and missing > 0:
            self._append("\n" * missing)
        self._pending_newlines = 0

    def _append(self, text: str) -> None:
        self.pieces.append(text)
        self.length += len(text)
        kept = text.rstrip("\n")
        self._newlines_at_end = len(text) - len(kept) + (self._newlines_at_end if not kept else 0)


def _finish(text: str, spans: list[_Span]) -> Formatted:
    """Trim the text as Telegram does and keep only spans Telegram takes as they are."""
    stripped = text.strip(_BLANK)
    left = len(text) - len(text.lstrip(_BLANK))
    trimmed = []
    for span in spans:
        start, end = max(span.start, left) - left, min(span.end, left + len(stripped)) - left
        if end > start:
            trimmed.append(replace(span, start=start, end=end))
    spans = _carve_around_code(_nest(trimmed))
    spans = [span for span in spans if stripped[span.start : span.end].strip(_BLANK)]
    spans.sort(key=lambda span: (span.start, -span.end, span.order))
    return Formatted(stripped, _as_entities(stripped, spans))


def _nest(spans: list[_Span]) -> list[_Span]:
    """The spans that may stay where they are: a span Telegram would refuse to nest is dropped.

    Spans built from a document nest already; one that would still overlap the span around it ends with it.
    """
    spans = sorted(spans, key=lambda span: (span.start, -span.end, span.order))
    kept: list[_Span] = []
    # The spans around the current one, each with the kinds and types of it and of those around it.
    around: list[tuple[_Span, frozenset[str]]] = []
    for span in spans:
        while around and around[-1][0].end <= span.start:
            around.pop()
        inside = around[-1][1] if around else frozenset()
        if around and span.end > around[-1][0].end:
            span.end = around[-1][0].end
        kind = _KIND.get(span.type, "style")
        # Bold inside bold adds nothing.
        if inside & _NOT_INSIDE[kind] or span.type in inside:
            continue
        kept.append(span)
        around.append((span, inside | {kind, span.type}))
    return kept


def _carve_around_code(spans: list[_Span]) -> list[_Span]:
    """Bold, italic and the like leave out the code and pre inside them, as Telegram would."""
    code = sorted((span.start, span.end) for span in spans if span.type in ("code", "pre"))
    if not code:
        return spans
    quotes = sorted((span.start, span.end) for span in spans if _KIND.get(span.type) == "quote")
    result = []
    for span in spans:
        inner_code = _starting_within(code, span)
        if span.type in _KIND or not inner_code:
            result.append(span)
            continue
        # A quote holding some of this code would overlap the pieces on each side of it: cut at its edges too.
        # Only there: a cut at any other quote would leave the pieces overlapping whatever that quote holds.
        quotes_around_code = [quote for quote in _starting_within(quotes, span) if _holds_some(quote, inner_code)]
        edges = {edge for inner in (*inner_code, *quotes_around_code) for edge in inner}
        edges = sorted({span.start, span.end} | {edge for edge in edges if span.start < edge < span.end})
        code_pieces = set(inner_code)
        for start, end in itertools.pairwise(edges):
            if (start, end) not in code_pieces:
                result.append(replace(span, start=start, end=end))
    return result


def _holds_some(outer: tuple[int, int], ranges: list[tuple[int, int]]) -> bool:
    index = bisect.bisect_left(ranges, (outer[0],))
    return index < len(ranges) and ranges[index][1] <= outer[1]


def _starting_within(ranges: list[tuple[int, int]], span: _Span) -> list[tuple[int, int]]:
    return ranges[bisect.bisect_left(ranges, (span.start,)) : bisect.bisect_left(ranges, (span.end,))]


def _as_entities(text: str, spans: list[_Span]) -> list[dict]:
    if not spans:
        return []
    # Code points and UTF-16 units differ only after a character outside the BMP.
    units = _unit_offsets(text) if any(ord(char) > 0xFFFF for char in text) else None
    entities = []
    for span in spans:
        start, end = (units[span.start], units[span.end]) if units else (span.start, span.end)
        entity = {"type": span.type, "offset": start, "length": end - start}
        if span.url is not None:
            entity["url"] = span.url
        if span.language:
            entity["language"] = span.language
        entities.append(entity)
    return entities


def _link_url(url: str) -> str | None:
    """`url` if Telegram takes it for a text link and it is safe to follow (http, https or tg)."""
    url = url.strip()
    if not url or not url.isprintable() or any(char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number up to 65535
        return None
    scheme = parts.scheme.lower()
    if scheme not in _LINK_SCHEMES:
        return None
    if scheme in ("http", "https") and (not parts.hostname or port == 0):
        return None
    if scheme == "tg" and not (parts.netloc or parts.path):
        return None
    return url


def _mail_address(url: str) -> str | None:
    """The address of a mailto: link. Telegram refuses it for a text link, but finds an address in the text."""
    scheme, _, rest = url.strip().partition(":")
    address = unquote(rest.split("?")[0])
    if scheme.lower() != "mailto" or not address.isprintable() or any(char.isspace() for char in address):
        return None
    return address if "@" in address.strip("@") else None


@dataclass(slots=True)
class _MailLink:
    """A mailto: link being written: its text, then its address unless the text is the address."""

    address: str
    mark: int

    def close(self, out: _Builder) -> None:
        if out.text_since(self.mark).strip() != self.address:
            out.write(f" ({self.address})")


def _open_link(out: _Builder, href: str) -> _Span | _MailLink | None:
    url = _link_url(href)
    if url:
        return out.open("text_link", url=url)
    address = _mail_address(href)
    return _MailLink(address, out.mark()) if address else None


def _close(out: _Builder, opened: _Span | _MailLink | None) -> None:
    if isinstance(opened, _MailLink):
        opened.close(out)
    elif opened:
        out.close(opened)


# -- Markdown ----------------------------------------------------------------------------------------------

# CommonMark, with ~~strikethrough~~; raw HTML stays text.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("strikethrough")


def _parse_every_link(url: str) -> bool:
    # Every [text](url) is read as a link: _link_url decides which become links, the rest show their text.
    return True


_MARKDOWN.validateLink = _parse_every_link

_MARKDOWN_INLINE = {"strong_open": "bold", "em_open": "italic", "s_open": "strikethrough"}
_MARKDOWN_CLOSE = frozenset({"strong_close", "em_close", "s_close", "link_close"})


def _render_markdown(text: str) -> Formatted:
    out = _Builder()
    lists: list[list[int]] = []  # per open list: [is ordered, number of the next item]
    blocks: list[_Span] = []  # headings and quotes being written
    for token in _MARKDOWN.parse(text):
        kind = token.type
        if kind == "paragraph_open" and not token.hidden:
            out.separate(2)
        elif kind in ("heading_open", "blockquote_open"):
            out.separate(2)
            blocks.append(out.open("bold" if kind == "heading_open" else "blockquote"))
        elif kind in ("heading_close", "blockquote_close") and blocks:
            out.close(blocks.pop())
        elif kind in ("bullet_list_open", "ordered_list_open"):
            if not lists:
                out.separate(2)
            lists.append([kind == "ordered_list_open", int(token.attrs.get("start", 1))])
        elif kind in ("bullet_list_close", "ordered_list_close") and lists:
            lists.pop()
        elif kind == "list_item_open" and lists:
            ordered, number = lists[-1]
            lists[-1][1] += 1
            out.separate(1, item=True)
            out.write_marker("  " * (len(lists) - 1) + (f"{number}. " if ordered else "• "))
        elif kind in ("fence", "code_block"):
            out.separate(2)
            info = unescapeAll(token.info).split()
            pre = out.open("pre", language=info[0] if info else None)
            out.write(token.content.removesuffix("\n"))
            out.close(pre)
        elif kind == "hr":
            out.separate(2)
            out.write("———")
        elif kind == "inline":
            _markdown_inline(out, token.children or [])
    return out.result()


def _markdown_inline(out: _Builder, tokens: list[Token]) -> None:
    opened: list[_Span | _MailLink | None] = []
    for token in tokens:
        kind = token.type
        if kind == "text":
            out.write(token.content)
        elif kind in ("softbreak", "hardbreak"):
            out.write("\n")
        elif kind == "code_inline":
            code = out.open("code")
            out.write(token.content)
            out.close(code)
        elif kind in _MARKDOWN_INLINE:
            opened.append(out.open(_MARKDOWN_INLINE[kind]))
        elif kind == "link_open":
            opened.append(_open_link(out, str(token.attrs.get("href", ""))))
        elif kind in _MARKDOWN_CLOSE and opened:
            _close(out, opened.pop())
        elif kind == "image":
            # Telegram shows no inline images: the alt text, linking to the image.
            source = str(token.attrs.get("src", ""))
            if not token.children:
                out.write(source)
                continue
            url = _link_url(source)
            link = out.open("text_link", url=url) if url else None
            _markdown_inline(out, token.children)
            if link:
                out.close(link)
    for each in reversed(opened):
        _close(out, each)


# -- Telegram's HTML ---------------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}


class _TelegramHTML(HTMLParser):
    """The tags of Telegram's HTML parse mode; any other tag is dropped and its text kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Builder()
        self._open: list[tuple[str, _Span | _MailLink | None]] = []
        self._open_count: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.write("\n")
            return
        attributes = {name: value or "" for name, value in attrs}
        classes = attributes.get("class", "").split()
        kind = _HTML_TAGS.get(tag)
        opened = None
        if tag == "span" and "tg-spoiler" in classes:
            kind = "spoiler"
        elif tag == "blockquote":
            kind = "expandable_blockquote" if "expandable" in attributes else "blockquote"
        elif tag == "a":
            opened = _open_link(self.out, attributes.get("href", ""))
        elif tag == "code" and self._open and self._open[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre block in language x.
            kind = None
            pre = self._open[-1][1]
            languages = [name.removeprefix("language-") for name in classes if name.startswith("language-")]
            if isinstance(pre, _Span) and languages and languages[0]:
                pre.language = languages[0]
        if kind:
            opened = self.out.open(kind)
        self._open.append((tag, opened))
        self._open_count[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        # Closing a tag closes whatever was left open inside it; a closing tag with nothing to close is ignored.
        if not self._open_count[tag]:
            return
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                self._close_from(index)
                return

    def handle_data(self, data: str) -> None:
        self.out.write(data)

    def finish(self) -> Formatted:
        self.close()
        self._close_from(0)
        return self.out.result()

    def _close_from(self, index: int) -> None:
        # Innermost first: an address written after a mail link's text is in none of the elements inside it.
        for tag, opened in reversed(self._open[index:]):
            self._open_count[tag] -= 1
            _close(self.out, opened)
        del self._open[index:]


def _render_html(text: str) -> Formatted:
    parser = _TelegramHTML()
    # html.parser raises on malformed "<![" sections (marked sections, which HTML does not have): show them as text.
    parser.feed(text.replace("<![", "&lt;!["))
    return parser.finish()
