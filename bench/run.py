"""Benchmarks of the production layout, run by `make bench`; they are measurements, not tests.

For each backend (the embedded default, then PostgreSQL + Redis) this starts
what `make run` starts, on a fresh database: the simulated Telegram (every
sendMessage answered after a set round trip), gunicorn as config/run.py runs
it and one `run_huey` worker. Then:

- ingest: wrk POSTs messages with Bearer tokens at several concurrencies, at a
  paced rate, with HTTP Basic (once cached) and on `POST /message/sent`;
- delivery: on a second fresh stack with the simulated Telegram enforcing its
  limits, accept-to-sent latency at a rate well under the global one, then
  2,000 messages over 200 chats as fast as the worker may send them;
- bursts: on a third fresh stack, with the bot poller too and a group's limit
  as well, one account posts 100 messages at once to its private chat with
  bundling on, then (fewer, as each takes a second) with bundling off, then
  100 to a group it links through the bot; how long until the chat has them
  all, in how many Telegram messages, and the 429s;
- memory: the peak RSS (VmHWM) of the web workers and of the delivery worker.

The results replace the generated part of docs/benchmarks.md when ingest and
delivery were both measured; any other choice of phases only prints them.

    python -m bench.run [--backends sqlite,postgres] [--duration 10] [--no-write] [--save FILE]
    python -m bench.run --phases bursts [--unbundled 100]   # the bursts alone, printed
    python -m bench.run --render FILE   # the tables again from saved results
"""

import argparse
import base64
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.run import default_web_workers, web_command  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
LUA = ROOT / "bench" / "post.lua"
PASSWORD = "benchmark passphrase 1"
TOKEN = "424242:benchmark-token-not-secret"
WRK_THREADS = 2
# Posting the 2,000 messages: one connection per thread, each thread its own accounts.
BURST_THREADS = 8

# The goals this machine is held to.
GOAL_ACCEPTED_PER_SECOND = 600
GOAL_PACED_RATE = GOAL_ACCEPTED_PER_SECOND // 2
GOAL_PACED_P99_MS = 50
GOAL_BASIC_RATIO = 1.5
GOAL_DELIVERY_SHARE = 0.95
GOAL_LATENCY_BEYOND_RTT_MS = 100
GOAL_BURST_PRIVATE_SECONDS = 15
GOAL_BURST_GROUP_SECONDS = 30

ROUND_TRIP_SECONDS = 0.05
TELEGRAM_LIMITS = {"per_chat_per_second": 1, "global_per_second": 30}
PHASES = ("ingest", "delivery", "bursts")
INGEST_ACCOUNTS = 200
BASIC_ACCOUNTS = 8
DELIVERY_CHATS = 200
DELIVERY_MESSAGES = 2000
UNSATURATED_MESSAGES = 200
UNSATURATED_RATE = 10
# Bursts: one account posts BURST_MESSAGES within a second to one chat, under all of Telegram's limits.
BURST_LIMITS = {**TELEGRAM_LIMITS, "per_group_per_minute": 20}
BURST_MESSAGES = 100
BURST_CONNECTIONS = 4
# Unbundled, a private chat takes one a second: a shorter burst keeps `make bench` short (--unbundled).
UNBUNDLED_MESSAGES = 30
# The relay's separator between bundled messages (relay/delivery.py).
BUNDLE_SEPARATOR = "\n\n"
# The Telegram user who owns the group the bot is added to.
GROUP_OWNER = 5001

SEED = """
import json
from django.contrib.auth.hashers import make_password
from accounts.models import User
from accounts.services import issue_token
from relay.models import Destination
users = User.objects.bulk_create(
    [User(username=f"bench{n}", name=f"Bench {n}", password="!") for n in range(%(accounts)d)]
)
# Each account's private chat, its default destination, as linking it makes it.
Destination.objects.bulk_create([
    Destination(user=user, label="me", kind="private", chat_id=700000 + n, is_default=True)
    for n, user in enumerate(users)
])
# One real PBKDF2 hash, shared: Basic is measured once cached, and seeding
# stays seconds instead of a hash per account.
User.objects.filter(pk__in=[user.pk for user in users[:%(basic)d]]).update(password=make_password(%(password)r))
print(json.dumps({"tokens": [issue_token(user=user)[1] for user in users],
                  "basic": [user.username for user in users[:%(basic)d]]}))
"""

MESSAGES = """
import json
from relay.models import Message
rows = Message.objects.filter(pk__gt=%(after)d).order_by("pk").values_list("pk", "status", "created_at", "sent_at")
print(json.dumps([[pk, status, created.timestamp(), sent.timestamp() if sent else None]
                  for pk, status, created, sent in rows]))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated: " + ", ".join(PHASES))
    parser.add_argument("--unbundled", type=int, default=UNBUNDLED_MESSAGES,
                        help=f"messages in the bursts' row without bundling (at one a second; {BURST_MESSAGES} "
                        "for the whole burst)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs, and say where")
    parser.add_argument("--no-write", action="store_true", help="print the results, leave docs/benchmarks.md alone")
    parser.add_argument("--save", type=Path, help="also write the raw results to this JSON file")
    parser.add_argument("--render", type=Path, help="measure nothing: render the raw results of an earlier --save")
    args = parser.parse_args()
    if args.render:
        report = json.loads(args.render.read_text())
        report["date"] = datetime.fromisoformat(report["date"])
        return publish(report, write=not args.no_write)
    # Stopped from outside: still stop the processes and drop the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    phases = args.phases.split(",")
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    # The published tables need both; the bursts are added to them when measured.
    full = {"ingest", "delivery"} <= set(phases)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it: apt-get install -y wrk)")

    started = time.monotonic()
    report = {"machine": machine(), "versions": versions(), "date": datetime.now(UTC), "runs": {}}
    report["duration"] = args.duration
    with tempfile.TemporaryDirectory(prefix="tgrelay-bench-", delete=not args.keep) as scratch:
        if args.keep:
            log(f"keeping logs and SQLite databases in {scratch}")
        if full:
            log("== profile of one request")
            report["profile"] = profile(Path(scratch) / "profile")
        for backend in args.backends.split(","):
            log(f"== {backend}")
            run = report["runs"][backend] = {}
            if "ingest" in phases:
                run["ingest"] = run_ingest(backend, Path(scratch) / f"{backend}-ingest", args.duration)
            if "delivery" in phases:
                run["delivery"] = run_delivery(backend, Path(scratch) / f"{backend}-delivery")
            if "bursts" in phases:
                run["bursts"] = run_bursts(backend, Path(scratch) / f"{backend}-bursts", args.unbundled)
    report["seconds"] = time.monotonic() - started
    if args.save:
        args.save.write_text(json.dumps(report, indent=1, default=str))
    if not full:
        # A partial run prints its figures and never replaces the published tables.
        print(json.dumps(report["runs"], indent=1, default=str))
        if "bursts" in phases:
            print("\n".join(render_bursts(report["runs"])))
        return 0
    return publish(report, write=not args.no_write)


def publish(report: dict, *, write: bool) -> int:
    text = render(report)
    print(text)
    if write:
        write_doc(text)
        log(f"wrote {DOC.relative_to(ROOT)}")
    return 0


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# -- the stack ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def backend_env(backend: str, workdir: Path) -> Iterator[dict[str, str]]:
    """The environment that selects a backend, on a database made for this run and dropped after it."""
    if backend == "sqlite":
        yield {}
        return
    if backend != "postgres":
        raise SystemExit(f"unknown backend {backend!r}")
    import psycopg
    import redis

    host, user = os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGUSER", "postgres")
    # BENCH_DATABASE names it instead, for a machine where each person has a database of their own.
    name = os.environ.get("BENCH_DATABASE") or f"tgrelay_bench_{os.getpid()}_{workdir.name.replace('-', '_')}"
    redis_db = int(os.environ.get("BENCH_REDIS_DB", "13"))
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    admin = psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {name}")
    redis.Redis.from_url(redis_url).flushdb()
    try:
        yield {"DATABASE_URL": f"postgres://{user}@{host}:5432/{name}", "REDIS_URL": redis_url}
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
        redis.Redis.from_url(redis_url).flushdb()


class Stack:
    """What `make run` starts, with a bot token and the simulated Telegram on free ports."""

    def __init__(
        self, workdir: Path, backend_vars: dict[str, str], *, accounts: int, limits: dict | None, bot: bool = False
    ) -> None:
        self.workdir = workdir
        # The bot poller, which `make run` starts too: only the bursts link a group through it.
        self.bot = bot
        workdir.mkdir(parents=True)
        self.tg_port, self.port = free_port(), free_port()
        self.limits = limits
        self.accounts = accounts
        inherited = ("TELEGRAM_", "DJANGO_", "PROMETHEUS_", "DATABASE_URL", "REDIS_URL", "DATA_DIR")
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATA_DIR=str(workdir / "data"),
            PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"),
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=f"http://127.0.0.1:{self.tg_port}",
            TELEGRAM_BOT_USERNAME="tgrelay_bench_bot",
            # The per-account quota (60 a minute) would refuse most of the load.
            MESSAGES_PER_MINUTE="1000000",
            QUEUE_NAME=f"bench-{self.port}",
            **backend_vars,
        )
        self.web_workers = int(self.env.get("WEB_WORKERS") or default_web_workers())
        self.web_threads = int(self.env.get("WEB_THREADS") or 1)
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, str] = {}

    def __enter__(self) -> "Stack":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, name: str, command: list[str]) -> None:
        shown = " ".join(command).replace(sys.executable, "python")
        self.commands[name] = shown.replace(f":{self.port}", ":$PORT").replace(str(self.tg_port), "$TG_PORT")
        log_file = (self.workdir / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _start(self) -> None:
        python = sys.executable
        self._spawn("telegram", [python, "-m", "fakegram", "--port", str(self.tg_port),
                                 "--bot-username", self.env["TELEGRAM_BOT_USERNAME"]])  # fmt: skip
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{self.tg_port}", timeout=70, trust_env=False)
        wait_for(lambda: answers(self.control, "/_control/requests"), "the simulated Telegram")
        # Every sendMessage takes the round trip; Telegram's limits when asked for.
        slow = {"kind": "slow", "delay": ROUND_TRIP_SECONDS, "times": -1}
        self.control.post("/_control/faults", json=slow).raise_for_status()
        if self.limits:
            self.control.post("/_control/limits", json=self.limits).raise_for_status()

        subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        seeded = self.manage(SEED % {"accounts": self.accounts, "basic": BASIC_ACCOUNTS, "password": PASSWORD})
        self.tokens = seeded["tokens"]
        self.bearer = self.workdir / "bearer.txt"
        self.bearer.write_text("".join(f"Bearer {token}\n" for token in seeded["tokens"]))
        self.basic = self.workdir / "basic.txt"
        self.basic.write_text(
            "".join(f"Basic {base64.b64encode(f'{name}:{PASSWORD}'.encode()).decode()}\n" for name in seeded["basic"])
        )

        self._spawn("web", web_command(python, "127.0.0.1", str(self.port), self.env))
        self._spawn("worker", [python, "manage.py", "run_huey"])
        if self.bot:
            self._spawn("bot", [python, "manage.py", "runbot"])
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30, trust_env=False)
        wait_for(lambda: answers(self.api, "/healthz"), "the web server")

    def manage(self, script: str):
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])

    def count_messages(self) -> int:
        """Messages stored so far, read straight from the database."""
        if url := self.env.get("DATABASE_URL"):
            import psycopg

            with psycopg.connect(url) as conn:
                return conn.execute("SELECT COUNT(*) FROM relay_message").fetchone()[0]
        with sqlite3.connect(f"file:{self.workdir / 'data' / 'db.sqlite3'}?mode=ro", uri=True, timeout=20) as conn:
            return conn.execute("SELECT COUNT(*) FROM relay_message").fetchone()[0]

    def messages(self, after: int = 0) -> list[list]:
        return self.manage(MESSAGES % {"after": after})

    def peak_rss_mib(self) -> dict[str, float]:
        """VmHWM of the largest web worker and of the delivery worker, in MiB."""
        workers = children(self.processes["web"].pid)
        return {
            "web": max((vm_hwm(pid) for pid in workers), default=0.0),
            "worker": vm_hwm(self.processes["worker"].pid),
        }

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.1)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def vm_hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- wrk ----------------------------------------------------------------------------


def wrk(stack: Stack, *, credentials: Path, path: str, field: str, connections: int, duration: float,
        delay_ms: float = 0, quota: int = 0, threads: int = WRK_THREADS) -> dict:  # fmt: skip
    """One wrk run; returns its counts, rates and latencies."""
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "--timeout", "10s", "--latency",
        "-s", str(LUA.relative_to(ROOT)), f"http://127.0.0.1:{stack.port}", "--",
        str(credentials), str(threads), path, field, f"{delay_ms:.1f}", str(quota),
    ]  # fmt: skip
    wait_for_quiet(stack)
    before = cpu_snapshot(stack)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if quota:
        # wrk runs out its duration even when every thread is done: stop it (it reports on SIGINT)
        # once the messages are all in.
        target = stack.count_messages() + quota * threads
        while process.poll() is None and stack.count_messages() < target:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate()
    cpu = cpu_used(before, cpu_snapshot(stack))
    if process.returncode != 0:
        raise SystemExit(f"wrk failed: {stderr}")
    line = next(line for line in stdout.splitlines() if line.startswith("BENCH-RESULT "))
    result = json.loads(line.removeprefix("BENCH-RESULT "))
    seconds = result["duration_us"] / 1e6
    accepted = result["statuses"].get("202", 0)
    posts = sum(result["statuses"].values())
    socket_errors = sum(v for k, v in result["errors"].items() if k != "status")
    shown = [part.replace(str(credentials), credentials.name) for part in command]
    return {
        "command": " ".join(shown).replace(f"127.0.0.1:{stack.port}", "127.0.0.1:$PORT"),
        "connections": connections,
        "requests_per_second": result["requests"] / seconds,
        "accepted_per_second": accepted / seconds,
        "accepted": accepted,
        "errors": posts - accepted + socket_errors,
        "statuses": result["statuses"],
        "p50_ms": result["latency_us"]["p50"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000,
        "mean_ms": result["latency_us"]["mean"] / 1000,
        "web_cpu_ms": cpu["web"] * 1000 / max(result["requests"], 1),
        "others_cpu": cpu["others"],
    }


def wait_for_quiet(stack: Stack, most: float = 0.15, patience: float = 60) -> None:
    """Wait (a while, not for ever) until other work on the machine takes less than `most` of its CPU."""
    deadline = time.monotonic() + patience
    while True:
        before = cpu_snapshot(stack)
        time.sleep(1)
        others = cpu_used(before, cpu_snapshot(stack))["others"]
        if others < most:
            return
        if time.monotonic() > deadline:
            log(f"other processes still take {others:.0%} of the CPU; measuring anyway")
            return


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds so far: the machine's (busy, all), the web workers', the other stack processes', wrk's."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    web = children(stack.processes["web"].pid)
    rest = [process.pid for name, process in stack.processes.items()]
    return {
        "busy": (sum(fields[:8]) - idle) / tick,
        "all": sum(fields[:8]) / tick,
        "web": sum(process_cpu(pid) for pid in web),
        "stack": sum(process_cpu(pid) for pid in rest),
        "wrk": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,
    }


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The web workers' CPU seconds, and the share of the machine other processes took meanwhile."""
    delta = {key: after[key] - before[key] for key in before}
    ours = delta["web"] + delta["stack"] + delta["wrk"]
    return {"web": delta["web"], "others": max(delta["busy"] - ours, 0) / max(delta["all"], 1e-9)}


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm_basic(stack: Stack) -> None:
    """Verify each Basic credential in every web worker, so what follows is the cached path."""
    headers = stack.basic.read_text().split()
    headers = [f"{a} {b}" for a, b in zip(headers[::2], headers[1::2], strict=True)]
    fast_in_a_row, deadline = 0, time.monotonic() + 120
    # A new connection each time, so the requests spread over the workers.
    while fast_in_a_row < len(headers) * stack.web_workers * 10 and time.monotonic() < deadline:
        for header in headers:
            started = time.perf_counter()
            response = stack.api.get("/api/v1/telegram/link/", headers={"Authorization": header, "Connection": "close"})
            response.raise_for_status()
            fast_in_a_row = fast_in_a_row + 1 if time.perf_counter() - started < 0.1 else 0


def profile(workdir: Path) -> dict[str, float]:
    """bench/profile.py's CPU milliseconds per step, in a fresh DATA_DIR."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(DATA_DIR=str(workdir), PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"))
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- ingest -------------------------------------------------------------------------

INGEST_RUNS = [
    # (label, credentials, path, field, connections)
    ("Bearer", "bearer", "/api/v1/messages/", "text", 4),
    ("Bearer", "bearer", "/api/v1/messages/", "text", 16),
    ("Bearer", "bearer", "/api/v1/messages/", "text", 64),
    ("Basic (cached)", "basic", "/api/v1/messages/", "text", 16),
    ("Basic (cached)", "basic", "/api/v1/messages/", "text", 64),
    ("Bearer", "bearer", "/message/sent", "content", 16),
    ("Basic (cached)", "basic", "/message/sent", "content", 16),
]
PACED_CONNECTIONS = 16


def run_ingest(backend: str, workdir: Path, duration: int) -> dict:
    with (
        backend_env(backend, workdir) as backend_vars,
        Stack(workdir, backend_vars, accounts=INGEST_ACCOUNTS, limits=None) as stack,
    ):
        log(f"ingest stack up: {stack.web_workers} gunicorn workers")
        # Warm-up: connections, imports, first queries in every worker.
        wrk(stack, credentials=stack.bearer, path="/api/v1/messages/", field="text", connections=16, duration=3)
        warm_basic(stack)
        runs = []
        for label, credentials, path, field, connections in INGEST_RUNS:
            file = stack.bearer if credentials == "bearer" else stack.basic
            if credentials == "basic":
                # Again before each run: on a busy machine the waits for quiet can outlast
                # BASIC_AUTH_CACHE_SECONDS, and a credential hashed anew makes the rest wait (503).
                warm_basic(stack)
            result = wrk(stack, credentials=file, path=path, field=field, connections=connections, duration=duration)
            result.update(auth=label, path=path)
            log(f"{label} {path} c={connections}: {result['accepted_per_second']:.0f} accepted/s, "
                f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, errors {result['errors']}, "
                f"web CPU {result['web_cpu_ms']:.2f} ms/request, others {result['others_cpu']:.0%}")  # fmt: skip
            runs.append(result)
        paced = [run_paced(stack, duration, GOAL_PACED_RATE)]
        # And at half of what this machine reached, when that differs from the goal's rate.
        peak = max(r["accepted_per_second"] for r in runs if r["auth"] == "Bearer")
        if abs(peak / 2 - GOAL_PACED_RATE) > GOAL_PACED_RATE / 10:
            paced.append(run_paced(stack, duration, int(peak / 2)))
        memory = stack.peak_rss_mib()
        return {"runs": runs, "paced": paced, "memory": memory, "commands": dict(stack.commands),
                "web_workers": stack.web_workers, "web_threads": stack.web_threads}  # fmt: skip


def run_paced(stack: Stack, duration: int, rate: int) -> dict:
    """Bearer at about `rate` requests a second: each connection waits between requests."""
    period_ms = PACED_CONNECTIONS * 1000 / rate
    common = {"credentials": stack.bearer, "path": "/api/v1/messages/", "field": "text"}
    trial = wrk(stack, **common, connections=PACED_CONNECTIONS, duration=4, delay_ms=period_ms)
    # Each connection's cycle is its wait plus the answer's time: take the latter off the wait.
    answer_ms = PACED_CONNECTIONS * 1000 / max(trial["requests_per_second"], 1) - period_ms
    delay_ms = max(period_ms - answer_ms, 0)
    result = wrk(stack, **common, connections=PACED_CONNECTIONS, duration=duration + 5, delay_ms=delay_ms)
    result.update(target=rate, auth="Bearer", path="/api/v1/messages/")
    log(f"paced ~{rate}/s: {result['accepted_per_second']:.0f} accepted/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")  # fmt: skip
    return result


# -- delivery -----------------------------------------------------------------------


def run_delivery(backend: str, workdir: Path) -> dict:
    with (
        backend_env(backend, workdir) as backend_vars,
        Stack(workdir, backend_vars, accounts=DELIVERY_CHATS, limits=TELEGRAM_LIMITS) as stack,
    ):
        rate = int(stack.env.get("DELIVERY_GLOBAL_RATE", "25"))
        log(f"delivery stack up: DELIVERY_GLOBAL_RATE={rate}")
        common = {"credentials": stack.bearer, "path": "/api/v1/messages/", "field": "text"}

        # Unsaturated: one message per chat, UNSATURATED_RATE a second in all.
        per_thread = UNSATURATED_MESSAGES // WRK_THREADS
        delay_ms = WRK_THREADS * 1000 / UNSATURATED_RATE
        light = wrk(stack, **common, threads=WRK_THREADS, connections=WRK_THREADS, duration=60, delay_ms=delay_ms,
                    quota=per_thread)  # fmt: skip
        wait_sent(stack, UNSATURATED_MESSAGES, timeout=60)
        rows = stack.messages()
        latencies = [(sent - created) * 1000 for _, status, created, sent in rows if status == "sent"]
        last_pk = rows[-1][0]

        # Saturated: DELIVERY_MESSAGES over every chat, as fast as wrk can post them.
        time.sleep(1.5)  # the simulated Telegram's one-second windows empty
        per_thread = DELIVERY_MESSAGES // BURST_THREADS
        wait_for_quiet(stack)
        before = cpu_snapshot(stack)
        worker_before = process_cpu(stack.processes["worker"].pid)
        burst = wrk(stack, **common, threads=BURST_THREADS, connections=BURST_THREADS, duration=120, quota=per_thread)
        drain_started = time.monotonic()
        complete = wait_sent(stack, UNSATURATED_MESSAGES + DELIVERY_MESSAGES, timeout=300)
        worker_cpu = process_cpu(stack.processes["worker"].pid) - worker_before
        others = cpu_used(before, cpu_snapshot(stack))["others"]
        rows = stack.messages(after=last_pk)
        sent_rows = [row for row in rows if row[1] == "sent"]
        first_accept = min(row[2] for row in rows)
        sent_times = sorted(row[3] for row in sent_rows)
        overall = len(sent_rows) / (sent_times[-1] - first_accept)
        # Steady: the middle 80% of the sends, without the start and the last few chats' tail.
        low, high = len(sent_times) // 10, len(sent_times) * 9 // 10
        achieved = (high - low) / (sent_times[high] - sent_times[low])
        requests = stack.control.get("/_control/requests").json()
        memory = stack.peak_rss_mib()
        log(f"delivery: {achieved:.2f} msg/s steady, {overall:.2f} overall, of {rate}; "
            f"429s {requests['rate_limited']}; unsaturated p50 {percentile(latencies, 50):.0f} ms; "
            f"worker CPU {worker_cpu * 1000 / max(len(sent_rows), 1):.1f} ms/message, others {others:.0%}")  # fmt: skip
        return {
            "rate": rate,
            "messages": len(rows),
            "sent": len(sent_rows),
            "complete": complete,
            # Posts not answered 202. wrk's own socket errors are left out: once a thread has its
            # answers it sends GET /healthz until it is stopped, and stopping it cuts those short.
            "accepted_errors": UNSATURATED_MESSAGES + DELIVERY_MESSAGES - light["accepted"] - burst["accepted"],
            "achieved": achieved,
            "overall": overall,
            "seconds": sent_times[-1] - first_accept,
            "drain_seconds": time.monotonic() - drain_started,
            "rate_limited": requests["rate_limited"],
            "worker_cpu_ms": worker_cpu * 1000 / max(len(sent_rows), 1),
            "others_cpu": others,
            "unsaturated": {
                "count": len(latencies),
                "rate": light["accepted_per_second"],
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
            },
            "saturated_p50_s": percentile([(row[3] - row[2]) for row in sent_rows], 50),
            "memory": memory,
            "commands": {**stack.commands, "wrk (unsaturated)": light["command"], "wrk (2,000)": burst["command"]},
        }


def wait_sent(stack: Stack, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        waited = stack.control.get("/_control/wait_sent", params={"count": count, "timeout": min(remaining, 60)})
        if waited.json()["complete"]:
            return True
        if time.monotonic() >= deadline:
            return False


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# -- bursts -------------------------------------------------------------------------


def run_bursts(backend: str, workdir: Path, unbundled: int) -> dict:
    """A private chat with bundling on and off, then a group linked through the bot, bundling on."""
    with (
        backend_env(backend, workdir) as backend_vars,
        Stack(workdir, backend_vars, accounts=3, limits=BURST_LIMITS, bot=True) as stack,
    ):
        log("bursts stack up: the bot poller runs too")
        private = [own_destinations(stack, token)[0] for token in stack.tokens[:2]]
        rows = [
            burst(stack, stack.tokens[0], private[0], "private", count=BURST_MESSAGES, bundle=True),
            burst(stack, stack.tokens[1], private[1], "private", count=unbundled, bundle=False),
        ]
        group = link_group(stack, stack.tokens[2])
        rows.append(burst(stack, stack.tokens[2], group, "group", count=BURST_MESSAGES, bundle=True))
        return {"rows": rows, "memory": stack.peak_rss_mib(), "commands": dict(stack.commands)}


def own_destinations(stack: Stack, token: str) -> list[dict]:
    answer = stack.api.get("/api/v1/destinations/", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return answer.json()


def link_group(stack: Stack, token: str) -> dict:
    """A group linked as a user does it: a code from the API, the bot added with /start <code>."""
    headers = {"Authorization": f"Bearer {token}"}
    answer = stack.api.post("/api/v1/destinations/", json={"label": "ops"}, headers=headers)
    answer.raise_for_status()
    code = answer.json()["code"]
    group = {"title": "Bench ops", "members": {str(GROUP_OWNER): "creator"}}
    chat_id = stack.control.post("/_control/groups", json=group).json()["chat_id"]
    added = stack.control.post(f"/_control/groups/{chat_id}/add_bot", json={"by": GROUP_OWNER, "start": code})
    added.raise_for_status()

    def linked() -> dict | None:
        return next((found for found in own_destinations(stack, token) if found["chat_id"] == chat_id), None)

    wait_for(lambda: linked() is not None, "the bot to link the group")
    # The bot says so in the group, a send under the group's limits too: the burst starts once
    # it is there and the chat's one-second window has emptied.
    wait_for(lambda: sent_to(stack, chat_id), "the bot's answer in the group")
    time.sleep(1.5)
    return linked()


def sent_to(stack: Stack, chat_id: int) -> list[dict]:
    return stack.control.get("/_control/sent", params={"chat_id": chat_id}).json()["messages"]


def burst(stack: Stack, token: str, destination: dict, kind: str, *, count: int, bundle: bool) -> dict:
    """`count` messages posted at once to one destination; when and how they reached the chat."""
    headers = {"Authorization": f"Bearer {token}"}
    changed = stack.api.patch(f"/api/v1/destinations/{destination['id']}/", json={"bundle": bundle}, headers=headers)
    changed.raise_for_status()
    chat_id = destination["chat_id"]
    # Numbered, and about as long as an alert: with the header about 90 characters each in the chat.
    texts = [f"burst {n:03d}: disk /var at {50 + n % 50}% on db-{n % 7}, backup job queued" for n in range(count)]
    wait_for_quiet(stack)
    earlier = len(sent_to(stack, chat_id))
    requests_before = stack.control.get("/_control/requests").json()

    def post_share(share: int) -> list[tuple[int, int | None, str]]:
        answers = []
        with httpx.Client(base_url=stack.api.base_url, headers=headers, timeout=30, trust_env=False) as client:
            for text in texts[share::BURST_CONNECTIONS]:
                answer = client.post("/api/v1/messages/", json={"text": text, "to": destination["id"]})
                if answer.status_code != 202:
                    log(f"burst: answered {answer.status_code}: {answer.text[:200]!r}")
                answers.append((answer.status_code, answer.json()["id"] if answer.status_code == 202 else None, text))
        return answers

    started = time.monotonic()
    with ThreadPoolExecutor(BURST_CONNECTIONS) as pool:
        answers = [answer for share in pool.map(post_share, range(BURST_CONNECTIONS)) for answer in share]
    posted = time.monotonic() - started
    accepted = sorted((pk, text) for status, pk, text in answers if status == 202)
    if not accepted:
        raise SystemExit(f"no message of the burst was accepted: {sorted({status for status, _, _ in answers})}")
    # The chat should show them in the order they were accepted.
    expected = [text for _, text in accepted]
    timeout = 120 if bundle else 60 + 3 * count
    while True:
        sent = sent_to(stack, chat_id)[earlier:]
        seen = time.monotonic() - started
        # Each bundled message is header + text; a text is the last line of its piece.
        pieces = [piece for message in sent for piece in message["text"].split(BUNDLE_SEPARATOR)]
        texts_seen = [piece.rsplit("\n", 1)[-1] for piece in pieces]
        complete = set(expected) <= set(texts_seen)
        if complete or seen > timeout:
            break
        time.sleep(0.05)
    requests = stack.control.get("/_control/requests").json()
    rows = [row for row in stack.messages(after=accepted[0][0] - 1) if row[0] <= accepted[-1][0]]
    sent_rows = [row for row in rows if row[1] == "sent"]
    result = {
        "kind": kind,
        "bundle": bundle,
        "messages": count,
        "accepted": len(accepted),
        "posted_seconds": posted,
        "complete": complete,
        "in_order": texts_seen == expected,
        "seconds": seen,
        "telegram_messages": len(sent),
        "send_calls": requests["counts"].get("sendMessage", 0) - requests_before["counts"].get("sendMessage", 0),
        "rate_limited": requests["rate_limited"] - requests_before["rate_limited"],
        # The same from the rows: first accepted to last sent, and each message's accept to sent.
        "server_seconds": max(row[3] for row in sent_rows) - min(row[2] for row in rows) if sent_rows else None,
        "p50_s": percentile([row[3] - row[2] for row in sent_rows], 50),
        "max_s": max((row[3] - row[2] for row in sent_rows), default=float("nan")),
    }
    log(f"burst of {count} to a {kind} chat, bundling {'on' if bundle else 'off'}: posted in {posted:.2f} s, "
        f"all in the chat after {seen:.1f} s (complete {complete}, in order {result['in_order']}), "
        f"{len(sent)} Telegram messages, {result['rate_limited']} × 429")  # fmt: skip
    return result


# -- the machine --------------------------------------------------------------------


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M)[1])
    os_release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    return {
        "nproc": os.cpu_count(),
        "cpu": model[1] if model else platform.processor(),
        "memory_gib": total_kib / 1024 / 1024,
        "os": os_release.get("PRETTY_NAME", "").strip('"'),
        "kernel": platform.release(),
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def versions() -> dict:
    found = {"Python": platform.python_version(), "SQLite": sqlite3.sqlite_version}
    for package in ("Django", "djangorestframework", "django-rest-knox", "gunicorn", "huey", "psycopg", "redis"):
        found[package] = metadata.version(package)
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    found["wrk"] = wrk_version[1] if len(wrk_version) > 1 else "?"
    try:
        import psycopg
        import redis

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
            found["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        found["Redis"] = redis.Redis().info("server")["redis_version"]
    except Exception as error:  # a machine without them still runs the sqlite benchmarks
        log(f"PostgreSQL/Redis versions unknown: {type(error).__name__}")
    return found


# -- the report ---------------------------------------------------------------------


def render(report: dict) -> str:
    m, v, runs = report["machine"], report["versions"], report["runs"]
    ingest_any = next(iter(runs.values()))["ingest"]
    threads = ingest_any["web_threads"]
    kind = "sync workers" if threads == 1 else f"gthread workers of {threads} threads"
    lines = [
        f"Measured {report['date']:%Y-%m-%d %H:%M} UTC by `make bench` in {report['seconds'] / 60:.1f} minutes.",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']:.1f} GiB memory, {m['os']}, "
        f"Linux {m['kernel']}; load average {m['load']} when the run began. wrk runs on the same cores.",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in v.items()) + ".",
        f"- Web: gunicorn, {ingest_any['web_workers']} {kind} (`make run`'s defaults on this machine), access "
        "log on. Delivery: one `run_huey` process of 4 threads. The simulated Telegram answers every "
        f"sendMessage after {ROUND_TRIP_SECONDS * 1000:.0f} ms.",
        f"- Ingest: {INGEST_ACCOUNTS} accounts with a linked chat (Basic: {BASIC_ACCOUNTS} of them, each "
        "credential verified once in every web worker before measuring), `MESSAGES_PER_MINUTE=1000000` so the "
        "per-account quota refuses nothing; the delivery worker runs meanwhile. Each row is one wrk run with 2 "
        f"threads, of {report['duration']} seconds (paced rows {report['duration'] + 5}, after 4 seconds to "
        "find the wait that gives the rate).",
        "- Environment of every process: `DATA_DIR` (a new one per run), `TELEGRAM_BOT_TOKEN`, "
        "`TELEGRAM_API_URL=http://127.0.0.1:$TG_PORT`, `TELEGRAM_BOT_USERNAME`, `MESSAGES_PER_MINUTE=1000000`, "
        "`QUEUE_NAME`; on PostgreSQL + Redis also `DATABASE_URL` (a database made for the run and dropped after "
        "it) and `REDIS_URL` (a spare database number, emptied before and after).",
        "- *Web CPU* is the CPU time of the web workers divided by the requests answered; *other CPU* is the "
        "share of the machine used by processes outside the benchmark (on PostgreSQL + Redis, their servers) "
        "during the run. Before each run the benchmark waits, a minute at most, for other work to take under 15%.",
        "",
        "### Ingest",
        "",
        "| Backend | Auth | Route | Connections | Requests/s | Accepted/s | p50 ms | p99 ms | Errors "
        "| Web CPU ms/request | Other CPU |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, run in runs.items():
        rows = [(r["auth"], r) for r in run["ingest"]["runs"]]
        rows += [(f"Bearer, paced to ~{p['target']}/s", p) for p in run["ingest"]["paced"]]
        for auth, r in rows:
            lines.append(
                f"| {label(backend)} | {auth} | `POST {r['path']}` | {r['connections']} | "
                f"{r['requests_per_second']:.0f} | {r['accepted_per_second']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['errors']} | {r['web_cpu_ms']:.2f} | {r['others_cpu']:.0%} |"
            )
    lines += [
        "",
        "Where one request's CPU time goes (`python -m bench.profile`: each step alone, in one process, "
        "on the embedded default, least of five rounds):",
        "",
        "| Step | CPU ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {step} | {ms:.2f} |" for step, ms in report["profile"].items()]
    lines += [
        "",
        "### Delivery",
        "",
        f"{DELIVERY_MESSAGES:,} messages over {DELIVERY_CHATS} chats, posted as fast as 8 connections can; the "
        f"simulated Telegram answers 429 past {TELEGRAM_LIMITS['per_chat_per_second']} message a second in a chat "
        f"or {TELEGRAM_LIMITS['global_per_second']} a second in all, and takes {ROUND_TRIP_SECONDS * 1000:.0f} ms "
        "for each send. *Steady*: the middle 80% of the sends divided by the time they took; *overall*: all "
        "sends divided by the time from the first accepted to the last sent (the last seconds are a few chats, "
        "each allowed one message a second). *Unsaturated*: "
        f"{UNSATURATED_MESSAGES} messages, one per chat, at about {UNSATURATED_RATE} a second before the "
        "burst, accept (`created_at`) to sent (`sent_at`).",
        "",
        "| Backend | `DELIVERY_GLOBAL_RATE` | Sent | Steady msg/s | Overall msg/s | 429s | Unsaturated "
        "accept→sent p50 ms | p99 ms | Burst accept→sent p50 s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, run in runs.items():
        d = run["delivery"]
        lines.append(
            f"| {label(backend)} | {d['rate']} | {d['sent']:,} of {d['messages']:,} | "
            f"{d['achieved']:.2f} ({d['achieved'] / d['rate']:.0%}) | {d['overall']:.2f} | {d['rate_limited']} | "
            f"{d['unsaturated']['p50_ms']:.0f} | {d['unsaturated']['p99_ms']:.0f} | {d['saturated_p50_s']:.1f} |"
        )
    if bursts := render_bursts(runs):
        lines += ["", *bursts]
    lines += [
        "",
        "### Peak memory (VmHWM)",
        "",
        "| Backend | Run | Web worker (largest) MiB | Delivery worker MiB |",
        "| --- | --- | ---: | ---: |",
    ]
    for backend, run in runs.items():
        for phase in ("ingest", "delivery", "bursts"):
            if phase not in run:
                continue
            memory = run[phase]["memory"]
            lines.append(f"| {label(backend)} | {phase} | {memory['web']:.0f} | {memory['worker']:.0f} |")
    lines += ["", "### Goals", "", "| Goal | Backend | Measured | Met |", "| --- | --- | --- | --- |"]
    for backend, run in runs.items():
        for goal, measured, met in goals(run):
            lines.append(f"| {goal} | {label(backend)} | {measured} | {'yes' if met else '**no**'} |")
    lines += ["", "### Commands", "", "Each process as the benchmark started it (ports vary):", "", "```sh"]
    for name, command in ingest_any["commands"].items():
        lines.append(f"{command}  # {name}")
    bursts_any = next((run["bursts"] for run in runs.values() if "bursts" in run), None)
    if bursts_any:
        lines.append(f"{bursts_any['commands']['bot']}  # bot (the bursts only)")
    lines += [
        "```",
        "",
        "The load, the same on both backends (`bearer.txt` and `basic.txt` hold one `Authorization` value a line, "
        "made when the accounts are seeded; the two delivery runs are stopped as soon as all their messages are "
        "in):",
        "",
        "```sh",
    ]
    ingest_runs = ingest_any["runs"] + ingest_any["paced"]
    delivery_any = next(iter(runs.values()))["delivery"]
    for command in [r["command"] for r in ingest_runs] + [
        delivery_any["commands"]["wrk (unsaturated)"],
        delivery_any["commands"]["wrk (2,000)"],
    ]:
        lines.append(command)
    lines.append("```")
    return "\n".join(lines).rstrip() + "\n"


def render_bursts(runs: dict) -> list[str]:
    measured = {backend: run["bursts"] for backend, run in runs.items() if "bursts" in run}
    if not measured:
        return []
    rows = next(iter(measured.values()))["rows"]
    unbundled = next((r["messages"] for r in rows if not r["bundle"]), UNBUNDLED_MESSAGES)
    limits = BURST_LIMITS
    lines = [
        "### Bursts",
        "",
        f"One account posts {BURST_MESSAGES} messages (without bundling {unbundled}, as that row sends one a turn) "
        f"to one of its destinations, from {BURST_CONNECTIONS} connections at once, on a fresh stack "
        "that also runs the bot poller (`manage.py runbot`, as `make run` does), which links the group: a code "
        "from `POST /api/v1/destinations/`, then the simulated Telegram's owner of a new group adds the bot with "
        "`/start <code>`. The simulated Telegram answers 429 past "
        f"{limits['per_chat_per_second']} message a second in a chat, {limits['per_group_per_minute']} a minute "
        f"in a group or {limits['global_per_second']} a second in all, and takes {ROUND_TRIP_SECONDS * 1000:.0f} "
        "ms for each send. Bundling is set with `PATCH /api/v1/destinations/<id>/`. *All in the chat*: from the "
        "first POST until the texts of the Telegram messages sent to the chat, split on the blank line between "
        "bundled messages, hold every accepted message (looked at every 50 ms); *in order*: exactly those, each "
        "once, in the order they were accepted. Each text is about 60 characters, 100 with the header.",
        "",
        "| Backend | Destination | Bundling | Messages | Posted in s | All in the chat after s | In order "
        "| Telegram messages | sendMessage calls | 429s | Accept→sent p50 / max s |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for backend, bursts in measured.items():
        for r in bursts["rows"]:
            arrived = f"{r['seconds']:.1f}" if r["complete"] else f"not all after {r['seconds']:.0f}"
            lines.append(
                f"| {label(backend)} | {r['kind']} chat | {'on' if r['bundle'] else 'off'} | "
                f"{r['accepted']} of {r['messages']} | {r['posted_seconds']:.2f} | {arrived} | "
                f"{'yes' if r['in_order'] else '**no**'} | {r['telegram_messages']} | {r['send_calls']} | "
                f"{r['rate_limited']} | {r['p50_s']:.1f} / {r['max_s']:.1f} |"
            )
    return lines


def burst_goals(bursts: dict) -> list[tuple[str, str, bool]]:
    found = []
    for r in bursts["rows"]:
        if not r["bundle"] or r["messages"] != BURST_MESSAGES:
            continue
        goal = GOAL_BURST_PRIVATE_SECONDS if r["kind"] == "private" else GOAL_BURST_GROUP_SECONDS
        measured = f"{r['seconds']:.1f} s, {r['telegram_messages']} Telegram messages, {r['rate_limited']} × 429"
        if not r["complete"]:
            measured = f"not all after {r['seconds']:.0f} s"
        met = r["complete"] and r["in_order"] and r["seconds"] <= goal and r["rate_limited"] == 0
        found.append((f"{BURST_MESSAGES} to a {r['kind']} chat, bundled: all in order within {goal} s, no 429",
                      measured, met))  # fmt: skip
    return found


def label(backend: str) -> str:
    return {"sqlite": "SQLite (default)", "postgres": "PostgreSQL + Redis"}.get(backend, backend)


def goals(run: dict) -> list[tuple[str, str, bool]]:
    ingest, delivery = run["ingest"], run["delivery"]
    bearer_runs = [r for r in ingest["runs"] if r["auth"] == "Bearer"]
    best = max(bearer_runs, key=lambda r: r["accepted_per_second"])
    paced = ingest["paced"][0]
    by = {(r["auth"], r["path"], r["connections"]): r for r in ingest["runs"]}
    bearer, basic = by[("Bearer", "/api/v1/messages/", 16)], by[("Basic (cached)", "/api/v1/messages/", 16)]
    ratio = bearer["requests_per_second"] / basic["requests_per_second"]
    latency = delivery["unsaturated"]["p50_ms"] - ROUND_TRIP_SECONDS * 1000
    return [
        (f"≥ {GOAL_ACCEPTED_PER_SECOND} accepted messages/s", f"{best['accepted_per_second']:.0f}/s "
         f"(Bearer, {best['connections']} connections)", best["accepted_per_second"] >= GOAL_ACCEPTED_PER_SECOND),
        (f"p99 < {GOAL_PACED_P99_MS} ms at ~{GOAL_PACED_RATE}/s", f"{paced['p99_ms']:.1f} ms at "
         f"{paced['accepted_per_second']:.0f}/s", paced["p99_ms"] < GOAL_PACED_P99_MS),
        (f"Basic within {GOAL_BASIC_RATIO}× of Bearer", f"Bearer/Basic = {ratio:.2f} in requests/s "
         "(16 connections)", ratio <= GOAL_BASIC_RATIO),
        (f"delivery ≥ {GOAL_DELIVERY_SHARE:.0%} of the global rate", f"{delivery['achieved']:.2f} of "
         f"{delivery['rate']}/s steady ({delivery['overall']:.2f} overall)",
         delivery["achieved"] >= GOAL_DELIVERY_SHARE * delivery["rate"]),
        (f"unsaturated p50 < {GOAL_LATENCY_BEYOND_RTT_MS} ms beyond the round trip", f"{latency:.0f} ms beyond",
         latency < GOAL_LATENCY_BEYOND_RTT_MS),
        ("no 429 from Telegram", str(delivery["rate_limited"]), delivery["rate_limited"] == 0),
        *(burst_goals(run["bursts"]) if "bursts" in run else []),
    ]  # fmt: skip


def write_doc(text: str) -> None:
    block = f"{BEGIN}\n{text}{END}"
    current = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in current or END not in current:
        current = current.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    before, rest = current.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(before + block + after)


if __name__ == "__main__":
    sys.exit(main())
