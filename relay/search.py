"""Full-text search over one account's messages, on the database's own index.

SQLite: the FTS5 table `relay_message_search` (relay/migrations/0005), which
triggers keep in step with relay_message; beside the text, each row holds a
token naming its account and one naming its status, so a search reads only
that account's entries (even when another has a million) and filters by
status inside the index. PostgreSQL: a GIN index on to_tsvector('simple',
...) of the text cut into the same words, beside the (user, status, -id)
index. Both fold letter case in any alphabet and neither stems: a message
matches when it has every word asked for, as a whole word. (A prefix match
on the last word would read the entries of every account's words with that
start: 30 ms with a million messages in another account, where whole words
take 1 to 5.)

What a person types is never handed to MATCH or to_tsquery as it is: it is
cut into words (letters and digits), and each word is quoted, so quotes,
operators and column names in it are only text.
"""

import re

from django.db import connection
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import User
from relay.models import Message

# The longest search the API and the cabinet take, in characters.
MAX_LENGTH = 200
# Words alike to both tokenizers (FTS5's unicode61, PostgreSQL's parser): runs of letters and digits.
WORD = re.compile(r"[^\W_]+")
# Candidates read from the FTS5 index at a time, newest first, before the exact filters apply.
BATCH = 200

TABLE = "relay_message_search"
# PostgreSQL: the newest messages tested one by one before the GIN index is asked.
RECENT = 2000


def matches_sql(table: str = Message._meta.db_table) -> str:
    """The GIN index's expression (relay/migrations/0005: what is not a letter or digit made a space) @@ a tsquery."""
    words_of_text = f"regexp_replace(\"{table}\".\"text\", '[^[:alnum:]]+', ' ', 'g')"
    return f"to_tsvector('simple', {words_of_text}) @@ to_tsquery('simple', %s)"


def words(text: str) -> list[str]:
    return WORD.findall(text)


def owner_token(user_id: int) -> str:
    """The FTS5 token that names an account in its rows (the migration's triggers write the same)."""
    return f"u{user_id}"


def fts5_query(*, user_id: int, terms: list[str], status: str = "") -> str:
    """`owner : "u1" AND status : "sent" AND text : ("word" "other")`: every word, quoted, in that account's rows."""
    quoted = " ".join(f'"{term.replace('"', '""')}"' for term in terms)
    status_filter = f'status : "{status}" AND ' if status else ""
    return f'owner : "{owner_token(user_id)}" AND {status_filter}text : ({quoted})'


def tsquery(terms: list[str]) -> str:
    """`'word' & 'other'` for to_tsquery: every word, quoted as one lexeme."""
    return " & ".join(f"'{term.replace("'", "''")}'" for term in terms)


def first_matching(
    messages: QuerySet[Message],
    *,
    user: User,
    text: str,
    status: str = "",
    above: int | None = None,
    below: int | None = None,
    limit: int,
) -> list:
    """The first `limit` of `messages` with every word of `text`.

    `messages` are the account's, newest first by id, already filtered (by
    `status` among others); `above` and `below` are the bounds of their ids,
    for the index to start and stop at.
    """
    terms = words(text)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _first_matching_postgresql(messages, query=tsquery(terms), limit=limit)
    query = fts5_query(user_id=user.pk, terms=terms, status=status)
    return _first_matching_fts5(messages, query=query, above=above, below=below, limit=limit)


def _first_matching_postgresql(messages: QuerySet[Message], *, query: str, limit: int) -> list:
    # Two ways, and the planner's guess between them is only as good as its
    # statistics of words, poor for a history of a few repeated texts: read
    # the newest messages on the id index and test each one (fast for a
    # common word: the page fills at once), or look the word up in the GIN
    # index and sort what it finds (fast for a rare one). So first the newest
    # RECENT messages, then the index for the rest, each way where it is fast.
    recent_sql, recent_params = messages.values_list("id", "text")[:RECENT].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT recent.id FROM ({recent_sql}) recent WHERE {matches_sql('recent')} "
            "ORDER BY recent.id DESC LIMIT %s",
            [*recent_params, query, limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if len(ids) < limit:
            window_sql, window_params = messages.values_list("id")[:RECENT].query.sql_with_params()
            cursor.execute(f"SELECT count(*), min(newest.id) FROM ({window_sql}) newest", window_params)
            scanned, lowest = cursor.fetchone()
    found = list(messages.filter(pk__in=ids)) if ids else []
    if len(ids) < limit and scanned == RECENT:
        # Sorted on an expression, not on the id index: the planner cannot walk that index instead.
        older = messages.filter(pk__lt=lowest).filter(RawSQL(matches_sql(), [query], output_field=BooleanField()))
        found += older.order_by((F("id") + 0).desc())[: limit - len(found)]
    return found


def _first_matching_fts5(
    messages: QuerySet[Message], *, query: str, above: int | None, below: int | None, limit: int
) -> list:
    # FTS5 hands out the matches newest first by rowid, within the bounds, and
    # stops when asked: the account, status and words are all matched in the
    # index, so the first batch nearly always fills the page. The filters on
    # the rows themselves (the exact date range) drop at most a few at its ends.
    found: list[Message] = []
    batch = limit
    while len(found) < limit:
        sql, params = f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", [query]
        if above is not None:
            sql += " AND rowid > %s"
            params.append(above)
        if below is not None:
            sql += " AND rowid < %s"
            params.append(below)
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} ORDER BY rowid DESC LIMIT %s", [*params, batch])
            candidates = [row[0] for row in cursor.fetchall()]
        if candidates:
            found += messages.filter(pk__in=candidates)[: limit - len(found)]
        if len(candidates) < batch:
            break
        below, batch = candidates[-1], min(batch * 2, BATCH)
    return found
