"""Answers built piece by piece from a values() iterator: any history in constant memory.

Used by `GET /message/sent` and the cabinet's exports. Rows are formatted by
hand from plain values: a serializer per row costs several times the rest,
and so does turning each stored time into a datetime and back into text, so
the database writes the times as ISO 8601 text itself (`IsoUtc`).
"""

from collections.abc import Iterable, Iterator

from django.db import connections, transaction
from django.db.models import CharField, Func, QuerySet

# Rows fetched from the database at a time.
ROWS_PER_FETCH = 5000
# Characters (about) handed to the server at a time: one write per row would
# cost a system call and a chunk header per message.
CHUNK = 64 * 1024


class IsoUtc(Func):
    """A time as ISO 8601 text in UTC, as DRF writes it: `2026-03-01T12:30:00.123456Z`, no fraction when it is 0."""

    output_field = CharField()
    arity = 1

    def as_sqlite(self, compiler, connection, **extra_context):
        # Stored by Django as UTC text, "2026-03-01 12:30:00.123456" (no fraction when it is 0).
        template = "(substr(%(expressions)s, 1, 10) || 'T' || substr(%(expressions)s, 12) || 'Z')"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        template = (
            "(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
            " || CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s THEN ''"
            " ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || 'Z')"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)


def values(queryset: QuerySet, *fields) -> Iterator[tuple]:
    """`queryset.values_list(*fields)` read ROWS_PER_FETCH rows at a time: constant memory for any history."""
    rows = queryset.values_list(*fields).iterator(chunk_size=ROWS_PER_FETCH)
    if connections[queryset.db].vendor != "postgresql":
        yield from rows
        return
    # Outside a transaction Django opens PostgreSQL's cursor WITH HOLD, which the
    # server fills with the whole result before the first row; inside one it
    # streams. (Not on SQLite: its IMMEDIATE transaction would hold the write lock.)
    with transaction.atomic(using=queryset.db):
        yield from rows


def chunked(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces joined into chunks of about CHUNK characters."""
    buffer, size = [], 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)
