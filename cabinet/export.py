"""One's own messages as a JSON or CSV download, streamed in constant memory.

The rows come from a values() iterator, so neither the model instances nor
the whole answer are ever held: each chunk is written as it is made.
"""

import csv
import json
from collections.abc import Iterator

from accounts.models import User
from relay import selectors as relay_selectors
from relay import streaming

FIELDS = ("id", "created_at", "status", "sent_at", "attempts", "error", "text")
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rows(user: User) -> Iterator[tuple]:
    """The FIELDS of each message, oldest first; times as ISO 8601 UTC text, written by the database."""
    messages = relay_selectors.messages_for_user(user=user).order_by("id")
    times = {"created_at", "sent_at"}
    return streaming.values(messages, *(streaming.IsoUtc(name) if name in times else name for name in FIELDS))


def as_json(user: User) -> Iterator[str]:
    """A JSON array of the account's messages, oldest first; times in ISO 8601 UTC."""

    def pieces() -> Iterator[str]:
        yield "["
        separator = "\n"
        for row in _rows(user):
            yield separator + json.dumps(dict(zip(FIELDS, row, strict=True)), ensure_ascii=False)
            separator = ",\n"
        yield "\n]\n"

    return streaming.chunked(pieces())


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """What csv.writer writes to: hands back the line it was given."""

    def write(self, line: str) -> str:
        return line


def as_csv(user: User) -> Iterator[str]:
    """The account's messages as CSV with a header row, oldest first; UTF-8 with a BOM, so Excel reads it as such."""
    writer = csv.writer(_Line())

    def pieces() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(FIELDS)
        for row in _rows(user):
            yield writer.writerow([safe_cell(value) for value in row])

    return streaming.chunked(pieces())
