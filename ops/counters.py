"""Counters over a window that concurrent processes increment atomically.

Limits that must hold exactly under concurrency (failed logins, sign-ups)
take a slot here *before* the work they limit: `take()` increments and
returns the new count in one step, so of any number of concurrent callers
exactly `limit` get a slot, whichever web process or machine they run in.

A count's window starts with its first increment and lasts `window` seconds
whatever happens after (no increment extends it). The window's end is
stored with the count and compared with the caller's clock, so it holds for
any length and tests can move the clock.

With REDIS_URL the counts are Redis hashes changed by Lua scripts (atomic
in Redis); without it, rows of the ops_counter table changed by one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` statement, atomic on
SQLite and PostgreSQL alike.
"""

import random
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection

PREFIX = "tgrelay:counter:"

# Redis: KEYS[1] the counter, ARGV[1] now, ARGV[2] the window in seconds.
_ADD = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local values = redis.call('HMGET', KEYS[1], 'n', 'e')
local n, e = tonumber(values[1]), tonumber(values[2])
if n == nil or e == nil or e <= now then
  n, e = 0, now + window
end
n = n + 1
redis.call('HSET', KEYS[1], 'n', n, 'e', tostring(e))
redis.call('PEXPIRE', KEYS[1], math.ceil((e - now) * 1000) + 1000)
return {n, tostring(e)}
"""
_GIVE_BACK = """
local values = redis.call('HMGET', KEYS[1], 'n', 'e')
local n, e = tonumber(values[1]), tonumber(values[2])
if n ~= nil and e ~= nil and e > tonumber(ARGV[1]) and n > 0 then
  redis.call('HSET', KEYS[1], 'n', n - 1)
end
return 0
"""

_SQL_ADD = """
INSERT INTO ops_counter (name, count, expires_at) VALUES (%s, 1, %s)
ON CONFLICT (name) DO UPDATE SET
    count = CASE WHEN ops_counter.expires_at <= %s THEN 1 ELSE ops_counter.count + 1 END,
    expires_at = CASE WHEN ops_counter.expires_at <= %s THEN excluded.expires_at ELSE ops_counter.expires_at END
RETURNING count, expires_at
"""
# Expired rows are deleted now and then by whoever counts, so the table stays small without a job.
PRUNE_ONE_IN = 200


@dataclass(frozen=True)
class Count:
    count: int
    # Seconds since the epoch when the window ends.
    expires_at: float


def add(name: str, window: float, *, now: float | None = None) -> Count:
    """Count one more in `name`'s window (starting a new window if none is open); returns the new count."""
    now = time.time() if now is None else now
    if settings.REDIS_URL:
        count, expires_at = _scripts()[0](keys=[PREFIX + name], args=[repr(now), repr(float(window))])
        return Count(int(count), float(expires_at))
    with connection.cursor() as cursor:
        if random.randrange(PRUNE_ONE_IN) == 0:
            cursor.execute("DELETE FROM ops_counter WHERE expires_at <= %s", [now])
        cursor.execute(_SQL_ADD, [name, now + window, now, now])
        count, expires_at = cursor.fetchone()
    return Count(count, expires_at)


def take(name: str, limit: int, window: float, *, now: float | None = None) -> float | None:
    """Take one of `limit` slots in the window: None if taken, else the seconds until the window ends.

    A refused caller's increment is given back at once, so refusals count nothing.
    """
    now = time.time() if now is None else now
    counted = add(name, window, now=now)
    if counted.count <= limit:
        return None
    give_back(name, now=now)
    return max(counted.expires_at - now, 0.0)


def give_back(name: str, *, now: float | None = None) -> None:
    """Undo one increment of the open window (none if it has ended or the count is 0)."""
    now = time.time() if now is None else now
    if settings.REDIS_URL:
        _scripts()[1](keys=[PREFIX + name], args=[repr(now)])
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ops_counter SET count = count - 1 WHERE name = %s AND count > 0 AND expires_at > %s", [name, now]
        )


def get(name: str, *, now: float | None = None) -> int:
    """The count in `name`'s open window, 0 if none is open."""
    now = time.time() if now is None else now
    if settings.REDIS_URL:
        count, expires_at = _redis().hmget(PREFIX + name, ["n", "e"])
        return int(count) if count is not None and expires_at is not None and float(expires_at) > now else 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count FROM ops_counter WHERE name = %s AND expires_at > %s", [name, now])
        row = cursor.fetchone()
    return row[0] if row else 0


def clear(name: str) -> None:
    if settings.REDIS_URL:
        _redis().delete(PREFIX + name)
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ops_counter WHERE name = %s", [name])


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@cache
def _scripts():
    client = _redis()
    return client.register_script(_ADD), client.register_script(_GIVE_BACK)
