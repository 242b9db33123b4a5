"""One's own messages as a JSON or CSV download, streamed in constant memory.

The rows come from a values() iterator, so neither the model instances nor
the whole answer are ever held: each chunk is written as it is made.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from accounts.models import User
from relay import selectors as relay_selectors

FIELDS = ("id", "created_at", "status", "sent_at", "attempts", "error", "text")
# Rows fetched from the database at a time.
ROWS_PER_FETCH = 2000
# Bytes (about) handed to the server at a time: one write per row would cost a
# system call and a chunk header per message.
CHUNK = 64 * 1024
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rows(user: User) -> Iterator[dict]:
    messages = relay_selectors.messages_for_user(user=user).order_by("id").values(*FIELDS)
    return messages.iterator(chunk_size=ROWS_PER_FETCH)


def _utc(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _chunked(pieces: Iterable[str]) -> Iterator[str]:
    buffer, size = [], 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def as_json(user: User) -> Iterator[str]:
    """A JSON array of the account's messages, oldest first; times in ISO 8601 UTC."""

    def pieces() -> Iterator[str]:
        yield "["
        separator = "\n"
        for row in _rows(user):
            row["created_at"], row["sent_at"] = _utc(row["created_at"]), _utc(row["sent_at"])
            yield separator + json.dumps(row, ensure_ascii=False)
            separator = ",\n"
        yield "\n]\n"

    return _chunked(pieces())


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
            row["created_at"], row["sent_at"] = _utc(row["created_at"]), _utc(row["sent_at"])
            yield writer.writerow([safe_cell(row[field]) for field in FIELDS])

    return _chunked(pieces())
