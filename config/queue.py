"""The embedded queue: huey's SQLite queue with SQLite's NORMAL sync in WAL mode.

huey leaves SQLite at FULL sync, which waits for the disk on every task
enqueued, or turns syncing off, which risks a corrupt file when the machine
loses power. NORMAL in WAL mode keeps the file sound and skips the wait;
what a power cut may lose is the latest tasks, and the message rows they
point to are in the database, where the delivery sweep finds them.
"""

from huey import SqliteHuey
from huey.storage import SqliteStorage


class NormalSyncSqliteStorage(SqliteStorage):
    def _create_connection(self):
        connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


class SqliteQueue(SqliteHuey):
    storage_class = NormalSyncSqliteStorage
