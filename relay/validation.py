"""What a message text must be: something a reader can see.

Telegram shows a text made only of whitespace, zero-width characters or
other invisible code points as nothing at all, so such a text is refused as
an empty one is: by the API, the original `/message/sent` route and the
cabinet's form, all through `has_visible_character`. The OpenAPI schema
states the same rule as a pattern built from `is_invisible`
(config/schema_rules.py), so the schema and the server cannot disagree.
"""

import unicodedata

# Unicode's Default_Ignorable_Code_Point characters that are not format
# characters (Cf): they render as nothing wherever they stand. unicodedata
# has no lookup for that property, so they are listed (DerivedCoreProperties.txt).
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x2065, 0x2065),  # unassigned, reserved as ignorable
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned, reserved as ignorable
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement, with their reserved neighbours
    # Not ignorable, but blank by design, and used as an invisible filler.
    (0x2800, 0x2800),  # Braille pattern blank
)
_BLANK = frozenset(code for low, high in _IGNORABLE_RANGES for code in range(low, high + 1))
# Whitespace (Zs, Zl, Zp), control characters (Cc, NUL included) and format
# characters (Cf: zero-width space and joiners, word joiner, BOM, bidi marks, ...).
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def is_invisible(char: str) -> bool:
    """Whether `char` shows nothing by itself: whitespace, a control, format or ignorable character."""
    return char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES or ord(char) in _BLANK


def has_visible_character(text: str) -> bool:
    """Whether `text` has at least one character a reader sees (an emoji with joiners counts)."""
    return not all(is_invisible(char) for char in text)
