"""History at scale: how the message routes answer as one account's history grows; run by `make bench`.

For each backend (the embedded default, then PostgreSQL + Redis) this starts
the stack of bench/run.py (gunicorn as `make run` starts it, one `run_huey`
worker, the simulated Telegram) on a fresh, migrated database, and seeds four
accounts of 10, 10,000, 100,000 and 1,000,000 messages straight into
relay_message in large batches (SQLite: executemany, PostgreSQL: COPY), so
any index or trigger the migrations made is filled as it would be in use.
The rows are interleaved in time over a year, as several accounts' messages
are, with texts of varied length and words, and a mix of statuses.

Then, for each account, over HTTP to 127.0.0.1, one request at a time:

- `GET /message/sent`, every message: total time, first byte, bytes, rows a second;
- `GET /api/v1/messages/` page 1, and the page of the oldest messages;
- `GET /api/v1/messages/?q=` for a common word and a rare one;
- `POST /api/v1/messages/`;

each of the last five in turns over the four accounts, so that a busy moment of
the (shared) machine weighs on every history size alike.

The rows replace the generated part of the "History at scale" section of
docs/benchmarks.md, and the chart docs/img/history.png is drawn from them.

    python -m bench.history [--backends sqlite,postgres] [--sizes 10,10000,100000,1000000] [--no-write] [--save FILE]
    python -m bench.history --render FILE   # the table and chart again from saved results
"""

import argparse
import json
import math
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Stack, backend_env, label, log, machine, percentile, vm_hwm  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "img" / "history.png"
BEGIN, END = "<!-- history:begin -->", "<!-- history:end -->"

SIZES = [10, 10_000, 100_000, 1_000_000]
SEED_BATCH = 20_000
# What `?q=` looks for: a word of the templates (a few percent of the messages) and one
# planted once in every 10,000 messages of each account (and in its first).
COMMON_WORD = "backup"
RARE_WORD = "kingfisher"
RARE_EVERY = 10_000

# Each loop is bounded in count and in time.
SENT_RUNS = 3
SENT_TIMEOUT = 120.0
PAGE_REQUESTS = 100
SEARCH_REQUESTS = 50
POST_REQUESTS = 100
WARM_UP = 6
LOOP_BUDGET = 90.0

# The goals of this part.
GOAL_RATIO = 1.5
GOAL_ROWS_PER_SECOND = 200_000
GOAL_SEARCH_MS = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="messages in each account")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite databases and logs, and say where")
    parser.add_argument("--no-write", action="store_true", help="print the results, leave the docs alone")
    parser.add_argument("--save", type=Path, help="also write the raw results to this JSON file")
    parser.add_argument("--render", type=Path, help="measure nothing: render the raw results of an earlier --save")
    args = parser.parse_args()
    if args.render:
        return publish(json.loads(args.render.read_text()), write=not args.no_write)
    # Stopped from outside: still stop the processes and drop the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = sorted(int(size) for size in args.sizes.split(","))
    started = time.monotonic()
    report = {"machine": machine(), "versions": versions(), "date": datetime.now(UTC).isoformat(), "runs": {}}
    with tempfile.TemporaryDirectory(prefix="tgrelay-history-", delete=not args.keep) as scratch:
        if args.keep:
            log(f"keeping logs and SQLite databases in {scratch}")
        for backend in args.backends.split(","):
            log(f"== history, {backend}")
            report["runs"][backend] = run_backend(backend, Path(scratch) / f"{backend}-history", sizes)
    report["seconds"] = time.monotonic() - started
    if args.save:
        args.save.write_text(json.dumps(report, indent=1))
    return publish(report, write=not args.no_write)


def publish(report: dict, *, write: bool) -> int:
    text = render(report)
    print(text)
    if write:
        write_doc(text)
        draw(report, CHART)
        log(f"wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
    return 0


def versions() -> dict:
    found = {"Python": sys.version.split()[0], "SQLite": sqlite3.sqlite_version}
    for package in ("Django", "djangorestframework", "gunicorn", "psycopg"):
        found[package] = metadata.version(package)
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
            found["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    except Exception as error:  # a machine without it still runs the sqlite half
        log(f"PostgreSQL version unknown: {type(error).__name__}")
    return found


# -- seeding ------------------------------------------------------------------------

# Short, templated texts like those scripts send, in English and Russian, and free text
# of any length drawn from a vocabulary with a Zipf-like spread, so that words are
# common, rare or in between.
TEMPLATES = [
    "Backup of {db} finished in {n} s, {mb} MB",
    "Backup of {db} failed: {error}",
    "Deploy of {service} v{version} to {env}: {outcome}",
    "Build {n} of {service} on {branch} {outcome}",
    "Disk usage on {host} is at {pct}%",
    "Order #{order} paid: {amount} EUR by {name}",
    "New sign-up: {name} ({city})",
    "Reminder: {words}",
    "Заказ №{order} оплачен: {amount} ₽, покупатель {name}",
    "Новый пользователь {name} из города {city}",
    "Ошибка на {host}: {error}",
    "Напоминание: {words}",
    "Температура на датчике {n}: {pct} °C",
]
NAMES = ["Anna", "Boris", "Chen", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Irina", "Jonas", "Olga", "Pavel"]
CITIES = ["Moscow", "Berlin", "Lisbon", "Kazan", "Riga", "Tbilisi", "Almaty", "Yerevan", "Minsk", "Vilnius"]
ERRORS = ["connection refused", "timeout after 30 s", "out of memory", "disk full", "permission denied", "HTTP 502"]
SERVICES = ["api", "billing", "frontend", "worker", "search", "auth", "reports"]
SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "ni", "pa", "gru", "ste", "ol", "an", "chi", "bre"]


def vocabulary(rng: random.Random, size: int = 5000) -> tuple[list[str], list[float]]:
    """Made-up words and cumulative Zipf weights: the first is common, the last rare."""
    words: list[str] = []
    seen = set()
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen and COMMON_WORD not in word and RARE_WORD not in word:
            seen.add(word)
            words.append(word)
    cumulative, total = [], 0.0
    for rank in range(size):
        total += 1 / (rank + 1)
        cumulative.append(total)
    return words, cumulative


def make_text(rng: random.Random, words: list[str], cumulative: list[float], *, common: bool, rare: bool) -> str:
    def some_words(count: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=count))

    roll = rng.random()
    if common:
        text = TEMPLATES[rng.choice([0, 1])]
    elif roll < 0.6:
        text = rng.choice(TEMPLATES)
    elif roll < 0.97:
        text = None
        body = some_words(rng.randint(3, 60))
    else:
        text = None
        body = some_words(rng.randint(200, 600))  # a long report, split in parts on delivery
    if text is not None:
        body = text.format(
            db=rng.choice(["orders", "users", "metrics", "billing"]) + "-db",
            n=rng.randint(1, 9999),
            mb=rng.randint(10, 90000),
            error=rng.choice(ERRORS),
            service=rng.choice(SERVICES),
            version=f"{rng.randint(1, 5)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
            env=rng.choice(["staging", "production"]),
            outcome=rng.choice(["done", "ok", "rolled back", "passed", "failed"]),
            branch=rng.choice(["main", "release", "hotfix"]),
            host=f"{rng.choice(['web', 'db', 'cache'])}-{rng.randint(1, 12)}",
            pct=rng.randint(1, 99),
            order=rng.randint(10000, 999999),
            amount=rng.randint(1, 50000),
            name=rng.choice(NAMES),
            city=rng.choice(CITIES),
            words=some_words(rng.randint(2, 12)),
        )
    if rare:
        body = f"{body} {RARE_WORD}"
    return body


STATUSES = [("sent", 0.95), ("failed", 0.045), ("queued", 0.005)]


def history_rows(users: list[dict], now: datetime, seed: int = 11) -> Iterator[tuple]:
    """Every seeded message in time order, the accounts' messages interleaved, over the last year.

    Each row: user_id, destination_id, header, text, status, created_at, updated_at, attempts,
    next_attempt_at, parts_sent, telegram_message_ids, sent_at, error, idempotency_key, then what
    a plain text message has: not silent, format "text", no title, nothing rendered ahead, no
    entities or buttons, no reply taken.
    """
    rng = random.Random(seed)
    words, cumulative = vocabulary(rng)
    owners = [index for index, user in enumerate(users) for _ in range(user["size"])]
    rng.shuffle(owners)
    start, span = now - timedelta(days=365), timedelta(days=365) - timedelta(hours=1)
    step = span / max(len(owners), 1)
    counters = [0] * len(users)
    statuses, weights = zip(*STATUSES, strict=True)
    for k, owner in enumerate(owners):
        user = users[owner]
        index = counters[owner]
        counters[owner] += 1
        created = start + step * (k + rng.random())
        text = make_text(rng, words, cumulative, common=index == 1, rare=index % RARE_EVERY == 0)
        status = rng.choices(statuses, weights)[0]
        sent_at = created + timedelta(milliseconds=rng.randint(60, 900)) if status == "sent" else None
        if status == "sent":
            row = (user["destination"], status, sent_at, 0, created, 1, f"[{1000 + k}]", sent_at, "")
        elif status == "failed":
            row = (user["destination"], status, created + timedelta(seconds=40), 5, created, 0, "[]", None,
                   "Forbidden: bot was blocked by the user")  # fmt: skip
        else:
            # Waiting out a long retry: the delivery worker leaves it alone while measuring.
            row = (user["destination"], status, created, 3, now + timedelta(days=30), 0, "[]", None, "")
        destination, status, updated, attempts, next_attempt, parts, ids, sent, error = row
        header = f"{user['name']}, я получил от тебя сообщение:"
        yield (user["id"], destination, header, text, status, created, updated, attempts, next_attempt, parts, ids,
               sent, error, "", False, "text", "", "", "[]", "[]", False)  # fmt: skip


COLUMNS = [
    "user_id", "destination_id", "header", "text", "status", "created_at", "updated_at", "attempts",
    "next_attempt_at", "parts_sent", "telegram_message_ids", "sent_at", "error", "idempotency_key", "silent",
    "format", "title", "rendered", "entities", "buttons", "accept_reply",
]  # fmt: skip


def batches(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def sqlite_time(value: datetime | None) -> str | None:
    # As Django stores an aware datetime in SQLite: UTC, without the offset.
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def seed(stack: Stack, sizes: list[int]) -> dict:
    """The accounts' messages, straight into the migrated schema; returns each account's id, token and oldest ids."""
    tokens = [line.removeprefix("Bearer ") for line in stack.bearer.read_text().split("\n") if line]
    url = stack.env.get("DATABASE_URL")
    started = time.monotonic()
    with database(stack) as db:
        found = db.query("SELECT u.id, u.username, u.name, d.id FROM accounts_user u JOIN relay_destination d "
                         "ON d.user_id = u.id AND d.is_default WHERE u.username LIKE %s ORDER BY u.id",
                         ["bench%"])  # fmt: skip
        users = [{"id": row[0], "username": row[1], "name": row[2], "destination": row[3], "size": size,
                  "token": token}
                 for row, size, token in zip(found, sizes, tokens, strict=True)]  # fmt: skip
        # A column an older schema lacks (the fixed header, say) is left out.
        keep = seeded_columns(db)
        names = ", ".join(COLUMNS[index] for index in keep)
        now = datetime.now(UTC)
        rows = history_rows(users, now)
        total = sum(sizes)
        if url:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                with conn.cursor().copy(f"COPY relay_message ({names}) FROM STDIN") as copy:
                    for n, row in enumerate(rows, start=1):
                        copy.write_row([row[index] for index in keep])
                        if n % 200_000 == 0:
                            log(f"seeded {n:,} of {total:,}")
                # What autovacuum does soon after a bulk load: statistics, and the visibility map
                # that lets index-only scans skip the table.
                conn.execute("VACUUM ANALYZE")
        else:
            conn = db.conn
            conn.execute("PRAGMA synchronous = OFF")  # this connection only, while seeding
            insert = f"INSERT INTO relay_message ({names}) VALUES ({', '.join('?' * len(keep))})"
            done = 0
            for batch in batches(rows, SEED_BATCH):
                stored = [[sqlite_time(value) if isinstance(value, datetime) else value for value in row]
                          for row in batch]  # fmt: skip
                conn.executemany(insert, [[row[index] for index in keep] for row in stored])
                conn.commit()
                done += len(batch)
                if done % 200_000 < SEED_BATCH:
                    log(f"seeded {done:,} of {total:,}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seeded_seconds = time.monotonic() - started
        rebuilt = rebuild_search_index(stack)
        for user in users:
            ids = [row[0] for row in db.query(
                "SELECT id FROM relay_message WHERE user_id = %s ORDER BY id LIMIT 200", [user["id"]])]  # fmt: skip
            user["oldest_ids"] = ids
            user["newest_id"] = db.query("SELECT MAX(id) FROM relay_message WHERE user_id = %s", [user["id"]])[0][0]
            user["common_matches"] = db.count_containing(user["id"], COMMON_WORD)
            user["rare_matches"] = db.count_containing(user["id"], RARE_WORD)
        size = db.size_bytes(stack)
    log(f"seeded {total:,} messages in {seeded_seconds:.0f} s; database {size / 2**20:.0f} MiB")
    return {"users": users, "seconds": seeded_seconds, "database_bytes": size, "rebuilt": rebuilt}


class database:
    """A plain connection to the stack's database, for seeding and for reading ids back."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.env.get("DATABASE_URL")
        self.path = Path(stack.env["DATA_DIR"]) / "db.sqlite3"

    def __enter__(self) -> "database":
        if self.url:
            import psycopg

            self.conn = psycopg.connect(self.url, autocommit=True)
        else:
            self.conn = sqlite3.connect(self.path, timeout=60)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.conn.close()

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        if not self.url:
            sql = sql.replace("%s", "?")
        return list(self.conn.execute(sql, params or []).fetchall())

    def count_containing(self, user_id: int, word: str) -> int:
        # A plain scan, once, to know how many results a search should find.
        like = "ILIKE" if self.url else "LIKE"
        return self.query(f"SELECT COUNT(*) FROM relay_message WHERE user_id = %s AND text {like} %s",
                          [user_id, f"%{word}%"])[0][0]  # fmt: skip

    def size_bytes(self, stack: Stack) -> int:
        if self.url:
            return self.query("SELECT pg_database_size(current_database())")[0][0]
        return sum(path.stat().st_size for path in self.path.parent.glob("db.sqlite3*"))


def seeded_columns(db: database) -> list[int]:
    """Which of COLUMNS the migrated table has (by position); stops if it requires one this seeding lacks."""
    if db.url:
        rows = db.query("SELECT column_name, is_nullable = 'NO' AND column_default IS NULL AND is_generated = "
                        "'NEVER' AND is_identity = 'NO' FROM information_schema.columns WHERE table_name = "
                        "'relay_message'")  # fmt: skip
        present = {row[0] for row in rows}
        required = {row[0] for row in rows if row[1]}
    else:
        # table_xinfo: cid, name, type, notnull, default, pk, hidden (generated columns are hidden > 1).
        rows = db.query("PRAGMA table_xinfo(relay_message)")
        present = {row[1] for row in rows if row[6] < 2}
        required = {row[1] for row in rows if row[3] and row[4] is None and not row[5] and row[6] < 2}
    missing = required - set(COLUMNS) - {"id"}
    if missing:
        raise SystemExit(f"relay_message has required columns the history seeding does not fill: {sorted(missing)}")
    return [index for index, column in enumerate(COLUMNS) if column in present]


def rebuild_search_index(stack: Stack) -> str | None:
    """Run the project's command that rebuilds the full-text index, if it has one (triggers fill it otherwise)."""
    commands = ROOT / "relay" / "management" / "commands"
    for path in sorted(commands.glob("*.py")):
        if any(word in path.stem for word in ("search", "fts")):
            log(f"manage.py {path.stem}")
            subprocess.run([sys.executable, "manage.py", path.stem], cwd=ROOT, env=stack.env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            return path.stem
    return None


# -- measuring ----------------------------------------------------------------------


def run_backend(backend: str, workdir: Path, sizes: list[int]) -> dict:
    with (
        backend_env(backend, workdir) as backend_vars,
        Stack(workdir, backend_vars, accounts=len(sizes), limits=None) as stack,
    ):
        seeded = seed(stack, sizes)
        users = seeded["users"]
        client = httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, trust_env=False)
        warm_up(client, users[0], stack.web_workers)
        accounts = {}
        for user in users:
            log(f"-- account of {user['size']:,} messages")
            accounts[str(user["size"])] = prepare_account(stack, client, user)
        # Each request in turns over the accounts, in a new order every turn: whatever else the
        # machine does meanwhile weighs on every history size alike, so their ratios hold.
        for key, count in (("page1", PAGE_REQUESTS), ("last", PAGE_REQUESTS), ("search_common", SEARCH_REQUESTS),
                           ("search_rare", SEARCH_REQUESTS), ("post", POST_REQUESTS)):  # fmt: skip
            method = "POST" if key == "post" else "GET"
            targets = {size: (account["paths"][key], account["headers"]) for size, account in accounts.items()}
            for size, measured in timed_turns(client, method, targets, count).items():
                accounts[size].setdefault(key, {}).update(measured)
            log(
                f"{key}: " + ", ".join(f"{int(size):,} p50 {accounts[size][key]['p50_ms']:.1f} ms" for size in accounts)
            )
        for account in accounts.values():
            del account["headers"]
        return {
            "sizes": sizes,
            "seed_seconds": seeded["seconds"],
            "database_bytes": seeded["database_bytes"],
            "search_rebuild": seeded["rebuilt"],
            "web_workers": stack.web_workers,
            "web_command": stack.commands["web"],
            "accounts": accounts,
        }


def prepare_account(stack: Stack, client: httpx.Client, user: dict) -> dict:
    """`GET /message/sent` for the account, and the addresses its other requests will use."""
    headers = {"Authorization": f"Bearer {user['token']}"}
    result: dict = {"size": user["size"], "headers": headers}
    result["sent"] = measure_sent(stack, client, headers, user["size"])
    result["web_rss_mib"] = max((vm_hwm(pid) for pid in web_workers(stack)), default=0.0)

    first = client.get("/api/v1/messages/", headers=headers)
    first.raise_for_status()
    body = first.json()
    page_size = len(body["results"])
    # The page-number form counts the rows and names the last page; the keyset form starts
    # below an id, so the page of the oldest messages starts below the one after them.
    if "count" in body:
        result["paging"] = "page number"
        last = f"/api/v1/messages/?page={max(math.ceil(body['count'] / max(page_size, 1)), 1)}"
    else:
        result["paging"] = "keyset"
        oldest = user["oldest_ids"]
        before = oldest[page_size] if len(oldest) > page_size else user["newest_id"] + 1
        last = f"/api/v1/messages/?before={before}"
    result["page_size"] = page_size
    last_page = client.get(last, headers=headers).json()["results"]
    result["last_ids"] = [message["id"] for message in last_page][-1:]
    result["paths"] = {"page1": "/api/v1/messages/", "last": last, "post": "/api/v1/messages/"}
    for key, word, expected in (("search_common", COMMON_WORD, user["common_matches"]),
                                ("search_rare", RARE_WORD, user["rare_matches"])):  # fmt: skip
        path = f"/api/v1/messages/?q={word}"
        found = client.get(path, headers=headers).json()["results"]
        filtered = bool(found) and all(word in message["text"].casefold() for message in found)
        result["paths"][key] = path
        result[key] = {"word": word, "matches": expected, "returned": len(found), "filtered": filtered}
        if not filtered:
            log(f"?q={word} returned messages without the word: the API does not search yet")
    return result


def warm_up(client: httpx.Client, user: dict, workers: int) -> None:
    """Every route a few times per web worker on the smallest account: imports and first queries, done."""
    headers = {"Authorization": f"Bearer {user['token']}"}
    for _ in range(workers * 3):
        for path in ("/message/sent", "/api/v1/messages/", f"/api/v1/messages/?q={COMMON_WORD}"):
            client.get(path, headers=headers)


def web_workers(stack: Stack) -> list[int]:
    from bench.run import children

    return children(stack.processes["web"].pid)


def measure_sent(stack: Stack, client: httpx.Client, headers: dict, size: int) -> dict:
    """`GET /message/sent` a few times with curl: total time, first byte, bytes, the web workers' CPU.

    curl reads the answer at almost no cost of CPU, which the client shares with the server
    here; one more read afterwards, untimed, parses it and counts the rows. A failure ends the runs.
    """
    runs = []
    header_file = stack.workdir / "authorization.txt"  # kept out of the process list
    header_file.write_text(f"Authorization: {headers['Authorization']}\n")
    command = ["curl", "--silent", "--noproxy", "*", "--output", "/dev/null", "--header", f"@{header_file}",
               "--max-time", str(SENT_TIMEOUT), "--write-out", "%{http_code} %{time_starttransfer} %{time_total} "
               "%{size_download}", f"http://127.0.0.1:{stack.port}/message/sent"]  # fmt: skip
    deadline = time.monotonic() + max(LOOP_BUDGET, SENT_TIMEOUT * 2)
    for _ in range(SENT_RUNS):
        if time.monotonic() > deadline:
            break
        cpu_before = web_cpu(stack)
        done = subprocess.run(command, capture_output=True, text=True, timeout=SENT_TIMEOUT + 10)
        code, first_byte, seconds, size_bytes = done.stdout.split()
        status = int(code) if done.returncode == 0 else ("timeout" if done.returncode == 28 else code)
        if done.returncode not in (0, 28):
            status = f"{code}, cut short (curl {done.returncode})"
        run = {"status": status, "seconds": float(seconds), "first_byte_s": float(first_byte),
               "bytes": int(size_bytes), "web_cpu_s": web_cpu(stack) - cpu_before}  # fmt: skip
        runs.append(run)
        log(f"GET /message/sent: {status} in {run['seconds']:.2f} s, {run['bytes'] / 2**20:.1f} MiB, "
            f"web CPU {run['web_cpu_s']:.2f} s")  # fmt: skip
        if status != 200:
            break
    ok = [run for run in runs if run["status"] == 200]
    rows = None
    if ok:
        answer = client.get("/message/sent", headers=headers, timeout=SENT_TIMEOUT)
        rows = len(answer.json())
        if rows != size:
            log(f"GET /message/sent answered {rows:,} rows of {size:,}")
    median = percentile([run["seconds"] for run in ok], 50) if ok else None
    cpu = percentile([run["web_cpu_s"] for run in ok], 50) if ok else None
    return {
        "runs": runs,
        "rows": rows,
        "median_s": median,
        "first_byte_s": percentile([run["first_byte_s"] for run in ok], 50) if ok else None,
        "bytes": runs[0]["bytes"],
        "rows_per_second": rows / median if ok else None,
        "web_cpu_s": cpu,
        "rows_per_cpu_second": rows / cpu if ok and cpu else None,
        "failed": None
        if ok and len(ok) == len(runs)
        else {"status": runs[-1]["status"], "after_s": runs[-1]["seconds"]},
    }


def web_cpu(stack: Stack) -> float:
    """CPU seconds the web workers have used so far."""
    from bench.run import process_cpu

    return sum(process_cpu(pid) for pid in web_workers(stack))


def timed_turns(client: httpx.Client, method: str, targets: dict[str, tuple[str, dict]], count: int) -> dict:
    """`count` turns of one request to each target, one request at a time, after WARM_UP turns untimed.

    Bounded by LOOP_BUDGET seconds a target. Returns each target's p50, p99 and any unexpected status.
    """
    post = method == "POST"
    expected = 202 if post else 200
    order = list(targets)
    shuffle = random.Random(7).shuffle

    def once(path: str, headers: dict, n: int) -> httpx.Response:
        if post:
            return client.post(path, headers=headers, json={"text": f"history benchmark {n}: {COMMON_WORD} done"})
        return client.get(path, headers=headers)

    for n in range(WARM_UP):
        for path, headers in targets.values():
            once(path, headers, n)
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    errors: dict[str, dict[str, int]] = {name: {} for name in targets}
    deadline = time.monotonic() + LOOP_BUDGET * len(targets)
    for n in range(count):
        if time.monotonic() > deadline:
            break
        shuffle(order)
        for name in order:
            path, headers = targets[name]
            started = time.perf_counter()
            response = once(path, headers, n)
            latencies[name].append((time.perf_counter() - started) * 1000)
            if response.status_code != expected:
                errors[name][str(response.status_code)] = errors[name].get(str(response.status_code), 0) + 1
    return {
        name: {
            "requests": len(latencies[name]),
            "p50_ms": percentile(latencies[name], 50),
            "p99_ms": percentile(latencies[name], 99),
            "errors": errors[name],
        }
        for name in targets
    }


# -- the report ---------------------------------------------------------------------


def size_label(size: int | str) -> str:
    return f"{int(size):,}"


def sent_cell(sent: dict) -> str:
    if sent["failed"] and not sent["median_s"]:
        failed = sent["failed"]
        what = "no answer" if failed["status"] == "timeout" else f"**{failed['status']}**"
        return f"{what} after {failed['after_s']:.1f} s"
    seconds = sent["median_s"]
    shown = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
    cell = f"{shown}, {sent['bytes'] / 1e6:.1f} MB, {sent['rows_per_second']:,.0f} rows/s"
    if sent["failed"]:
        cell += f" (then {sent['failed']['status']})"
    return cell


def latency_cell(measured: dict) -> str:
    cell = f"{measured['p50_ms']:.1f} / {measured['p99_ms']:.1f}"
    if measured.get("errors"):
        cell += " (" + ", ".join(f"{n}× {status}" for status, n in measured["errors"].items()) + ")"
    if "filtered" in measured:
        cell = f"{cell}, {measured['matches']:,} found" if measured["filtered"] else "not searched (`q` ignored)"
    return cell


def render(report: dict) -> str:
    m, v = report["machine"], report["versions"]
    date = datetime.fromisoformat(report["date"])
    any_run = next(iter(report["runs"].values()))
    lines = [
        f"Measured {date:%Y-%m-%d %H:%M} UTC by `python -m bench.history` (the history part of `make bench`) in "
        f"{report['seconds'] / 60:.1f} minutes.",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']:.1f} GiB memory, {m['os']}; load average "
        f"{m['load']} when the run began (the machine is shared; the client runs on the same cores).",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in v.items()) + ".",
        f"- Web: `{any_run['web_command']}`, as `make run` starts it, with the delivery worker and the simulated "
        "Telegram beside it.",
        "- Each cell of the latency rows is p50 / p99 in ms over "
        f"{PAGE_REQUESTS} requests (search {SEARCH_REQUESTS}), one at a time, in turns over the accounts after "
        f"{WARM_UP} turns to warm the workers; `GET /message/sent` is the median of {SENT_RUNS} runs reading the "
        "whole answer. The account of 10 has 10 messages on its pages, the others a full page.",
        "",
    ]
    for backend, run in report["runs"].items():
        sizes = [str(size) for size in run["sizes"]]
        accounts = run["accounts"]
        paging = {accounts[s]["paging"] for s in sizes}
        lines += [
            f"#### {label(backend)}",
            "",
            f"Seeded {sum(run['sizes']):,} messages in {run['seed_seconds']:.0f} s; database "
            f"{run['database_bytes'] / 2**20:,.0f} MiB"
            + (f"; `manage.py {run['search_rebuild']}` after seeding" if run.get("search_rebuild") else "")
            + f". API paging: {', '.join(sorted(paging))}, {accounts[sizes[-1]]['page_size']} a page.",
            "",
            "| Request | " + " | ".join(f"{size_label(s)} messages" for s in sizes) + " |",
            "| --- |" + " ---: |" * len(sizes),
            "| `GET /message/sent`: time, size, rows/s | "
            + " | ".join(sent_cell(accounts[s]["sent"]) for s in sizes)
            + " |",
            "| `GET /message/sent`: first byte ms | "
            + " | ".join(
                f"{accounts[s]['sent']['first_byte_s'] * 1000:,.0f}"
                if accounts[s]["sent"]["first_byte_s"] is not None
                else "–"
                for s in sizes
            )
            + " |",  # fmt: skip
            "| `GET /message/sent`: rows per second of web CPU | "
            + " | ".join(
                f"{accounts[s]['sent']['rows_per_cpu_second']:,.0f}"
                if accounts[s]["sent"].get("rows_per_cpu_second")
                else "–"
                for s in sizes
            )
            + " |",  # fmt: skip
        ]
        paths = {
            "page1": "`GET /api/v1/messages/` page 1",
            "last": "`GET /api/v1/messages/` page of the oldest",
            "search_common": f"`GET /api/v1/messages/?q={COMMON_WORD}`",
            "search_rare": f"`GET /api/v1/messages/?q={RARE_WORD}`",
            "post": "`POST /api/v1/messages/`",
        }
        for key, name in paths.items():
            lines.append(f"| {name} | " + " | ".join(latency_cell(accounts[s][key]) for s in sizes) + " |")
        lines.append("| Largest web worker's peak RSS so far, MiB | "
                     + " | ".join(f"{accounts[s]['web_rss_mib']:.0f}" for s in sizes) + " |")  # fmt: skip
        lines.append("")
    lines += ["#### Goals", "", "| Goal | Backend | Measured | Met |", "| --- | --- | --- | --- |"]
    for backend, run in report["runs"].items():
        for goal, measured, met in goals(run):
            lines.append(f"| {goal} | {label(backend)} | {measured} | {'yes' if met else '**no**'} |")
    lines += ["", "![Latency against history size, both backends](img/history.png)", ""]
    return "\n".join(lines).rstrip() + "\n"


def goals(run: dict) -> list[tuple[str, str, bool]]:
    sizes = [str(size) for size in run["sizes"]]
    small, large = run["accounts"][sizes[0]], run["accounts"][sizes[-1]]
    found = []
    for key, name in (("page1", "API page 1"), ("last", "API page of the oldest"), ("post", "POST")):
        ratio = large[key]["p50_ms"] / small[key]["p50_ms"]
        found.append((f"{name} at {size_label(sizes[-1])} within {GOAL_RATIO}× of {size_label(sizes[0])} (p50)",
                      f"{large[key]['p50_ms']:.1f} / {small[key]['p50_ms']:.1f} ms = {ratio:.2f}×",
                      ratio <= GOAL_RATIO and not large[key]["errors"]))  # fmt: skip
    # Beside the goal: the same with a full page at both ends, so only the history's size differs.
    middle = run["accounts"].get("10000")
    if middle and sizes[-1] != "10000":
        for key, name in (("page1", "API page 1"), ("last", "API page of the oldest")):
            ratio = large[key]["p50_ms"] / middle[key]["p50_ms"]
            found.append((f"(also) {name} at {size_label(sizes[-1])} within {GOAL_RATIO}× of 10,000 (p50)",
                          f"{large[key]['p50_ms']:.1f} / {middle[key]['p50_ms']:.1f} ms = {ratio:.2f}×",
                          ratio <= GOAL_RATIO and not large[key]["errors"]))  # fmt: skip
    for size in sizes:
        if int(size) < 100_000:
            continue  # below that a request's fixed cost hides the per-row rate
        sent = run["accounts"][size]["sent"]
        rate = sent["rows_per_second"]
        measured = f"{rate:,.0f} rows/s" if rate and not sent["failed"] else sent_cell(sent)
        found.append((f"`GET /message/sent` ≥ {GOAL_ROWS_PER_SECOND:,} rows/s at {size_label(size)}", measured,
                      bool(rate) and not sent["failed"] and rate >= GOAL_ROWS_PER_SECOND))  # fmt: skip
    for key in ("search_common", "search_rare"):
        measured = large[key]
        found.append((f"search `{measured['word']}` < {GOAL_SEARCH_MS} ms at {size_label(sizes[-1])} (p50)",
                      f"{measured['p50_ms']:.1f} ms" if measured["filtered"] else "`q` not searched",
                      measured["filtered"] and measured["p50_ms"] < GOAL_SEARCH_MS))  # fmt: skip
    return found


def write_doc(text: str) -> None:
    current = DOC.read_text()
    if BEGIN not in current or END not in current:
        current = current.rstrip() + f"\n\n## History at scale\n\n{BEGIN}\n{END}\n"
    before, rest = current.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    DOC.write_text(before + f"{BEGIN}\n{text}{END}" + after)


def draw(report: dict, path: Path) -> None:
    """Latency against history size, log-log, one line per request, a panel per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = report["runs"]
    figure, axes = plt.subplots(1, len(runs), figsize=(6.2 * len(runs), 4.8), sharey=True, squeeze=False)
    styles = {
        "sent": ("GET /message/sent (every message)", "tab:red", "o"),
        "page1": ("API page 1 (p50)", "tab:blue", "s"),
        "last": ("API page of the oldest (p50)", "tab:cyan", "D"),
        "search_common": (f"search “{COMMON_WORD}” (p50)", "tab:green", "^"),
        "search_rare": (f"search “{RARE_WORD}” (p50)", "tab:olive", "v"),
        "post": ("POST (p50)", "tab:purple", "P"),
    }
    for axis, (backend, run) in zip(axes[0], runs.items(), strict=True):
        sizes = run["sizes"]
        accounts = run["accounts"]
        # Sending every row at the goal's rate: the line the original route should follow (from
        # 10,000 rows, below which a request's fixed cost is most of it).
        reference = [size for size in sizes if size >= 10_000]
        axis.plot(reference, [size / GOAL_ROWS_PER_SECOND * 1000 for size in reference], color="grey",
                  linestyle=":", label=f"every message at {GOAL_ROWS_PER_SECOND:,} rows/s (goal)")  # fmt: skip
        for key, (name, color, marker) in styles.items():
            xs, ys, failed = [], [], []
            for size in sizes:
                measured = accounts[str(size)][key]
                if key == "sent":
                    if measured["median_s"] is not None:
                        xs.append(size)
                        ys.append(measured["median_s"] * 1000)
                    elif measured["failed"]:
                        failed.append((size, measured["failed"]["after_s"] * 1000, measured["failed"]["status"]))
                elif measured.get("filtered", True):
                    xs.append(size)
                    ys.append(measured["p50_ms"])
            if not xs and not failed:
                continue  # e.g. `q` not searched: nothing to draw
            axis.plot(xs, ys, color=color, marker=marker, label=name)
            for size, ms, status in failed:
                if xs:
                    axis.plot([xs[-1], size], [ys[-1], ms], color=color, linestyle="--")
                axis.plot([size], [ms], color=color, marker="X", markersize=12, linestyle="none")
                axis.annotate(f"{status} after {ms / 1000:.0f} s", (size, ms), textcoords="offset points",
                              xytext=(-12, -12), ha="right", va="top", fontsize=8, color=color)  # fmt: skip
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(label(backend))
        axis.set_xlabel("messages in the account")
        axis.grid(True, which="major", alpha=0.4)
        axis.grid(True, which="minor", alpha=0.12)
    axes[0][0].set_ylabel("ms (log scale)")
    # One legend for both panels, under them: every line that either panel drew.
    entries = {}
    for axis in axes[0]:
        for handle, name in zip(*axis.get_legend_handles_labels(), strict=True):
            entries.setdefault(name, handle)
    figure.legend(entries.values(), entries.keys(), loc="lower center", ncol=4, fontsize=8, frameon=False)
    date = datetime.fromisoformat(report["date"])
    figure.suptitle(f"History at scale: latency against messages in one account ({date:%Y-%m-%d}, make bench)",
                    fontsize=11)  # fmt: skip
    figure.tight_layout(rect=(0, 0.09, 1, 1))
    path.parent.mkdir(exist_ok=True)
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
