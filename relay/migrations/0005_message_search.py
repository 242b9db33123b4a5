"""The full-text index over message texts that relay/search.py reads: each database its own.

SQLite: an external-content FTS5 table (the text is stored once, in
relay_message) with two more columns: a token that names the account,
`u<user id>`, so that a search matches `owner : "u<id>" AND ...` and reads
only that account's entries, and the status, so that a search with a status
filter is answered inside the index at any mix of the two. The unicode61
tokenizer folds letter case in every alphabet. Triggers keep it in step: a row
added, deleted, or given another text, account or status (delivery's other
writes leave it alone). No column sizes are kept (nothing ranks by them): one
write less for every message accepted.

PostgreSQL: a GIN index on to_tsvector('simple', ...) of the text with
everything but letters and digits made a space: words lower-cased, not
stemmed, whatever the language, and cut where relay/search.py cuts what is
searched for (PostgreSQL's parser alone keeps "a.b" or "web-1" in one piece).
Letters beyond ASCII count as such with a UTF-8 LC_CTYPE (C.UTF-8, en_US.UTF-8).
"""

from django.db import migrations


class RunSQLOn(migrations.RunSQL):
    """RunSQL on one database vendor only."""

    def __init__(self, vendor: str, *args, **kwargs) -> None:
        self.vendor = vendor
        super().__init__(*args, **kwargs)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


COLUMNS = "text, owner, status"


def values(row: str) -> str:
    return f"{row}.text, 'u' || {row}.user_id, {row}.status"


SQLITE = [
    # What FTS5 reads to rebuild itself: the text and the tokens beside it.
    "CREATE VIEW relay_message_search_source AS SELECT id, text, 'u' || user_id AS owner, status FROM relay_message",
    f"CREATE VIRTUAL TABLE relay_message_search USING fts5({COLUMNS}, content='relay_message_search_source', "
    "content_rowid='id', columnsize=0, tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER relay_message_search_insert AFTER INSERT ON relay_message BEGIN "
    f"INSERT INTO relay_message_search (rowid, {COLUMNS}) VALUES (new.id, {values('new')}); END",
    "CREATE TRIGGER relay_message_search_delete AFTER DELETE ON relay_message BEGIN "
    f"INSERT INTO relay_message_search (relay_message_search, rowid, {COLUMNS}) "
    f"VALUES ('delete', old.id, {values('old')}); END",
    "CREATE TRIGGER relay_message_search_update AFTER UPDATE OF text, user_id, status ON relay_message "
    "WHEN old.text IS NOT new.text OR old.user_id IS NOT new.user_id OR old.status IS NOT new.status BEGIN "
    f"INSERT INTO relay_message_search (relay_message_search, rowid, {COLUMNS}) "
    f"VALUES ('delete', old.id, {values('old')}); "
    f"INSERT INTO relay_message_search (rowid, {COLUMNS}) VALUES (new.id, {values('new')}); END",
    # The messages stored before this migration.
    "INSERT INTO relay_message_search (relay_message_search) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER relay_message_search_update",
    "DROP TRIGGER relay_message_search_delete",
    "DROP TRIGGER relay_message_search_insert",
    "DROP TABLE relay_message_search",
    "DROP VIEW relay_message_search_source",
]


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0004_history_indexes"),
    ]

    operations = [
        RunSQLOn("sqlite", SQLITE, SQLITE_REVERSE),
        RunSQLOn(
            "postgresql",
            "CREATE INDEX relay_message_text_search ON relay_message "
            "USING gin (to_tsvector('simple', regexp_replace(text, '[^[:alnum:]]+', ' ', 'g')))",
            "DROP INDEX relay_message_text_search",
        ),
    ]
