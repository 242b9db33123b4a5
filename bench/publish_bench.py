"""Publishing through ntfy's and Gotify's edges beside the native API, on the stack `make bench` measures.

One stack as bench/run.py starts it (the simulated Telegram, gunicorn as
config/run.py runs it, one `run_huey` worker) on a fresh database; each of
its accounts gets an ntfy and a Gotify integration. wrk then POSTs, at the
same concurrency and for the same time, a message each way: the native API
with an API token, ntfy's `POST /<topic>` with the token and with the
integration's secret, ntfy's JSON to `/`, and Gotify's `POST /message`. The
kinds take turns for several rounds, and each kind's median round counts, so
drift on the machine falls on all of them alike. The goal: every edge within
15% of the native API's rate.

    python -m bench.publish_bench [--backends sqlite,postgres] [--duration 10] [--rounds 3] [--no-write]
"""

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.run import ROOT, Stack, backend_env, cpu_snapshot, cpu_used, log, machine, wait_for_quiet

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench-publish:begin -->", "<!-- bench-publish:end -->"
LUA = ROOT / "bench" / "publish.lua"
ACCOUNTS = 200
CONNECTIONS = 16
THREADS = 2
GOAL_SHARE = 0.85

INTEGRATIONS = """
import json
from accounts.models import User
from publish.services import create_integration
users = User.objects.filter(username__startswith="bench").order_by("pk")
print(json.dumps({kind: [create_integration(user=u, kind=kind, name="bench")[1] for u in users]
                  for kind in ("ntfy", "gotify")}))
"""

# (label, credential, path, content type, body); %d in a body is a counter.
KINDS = [
    ("native API", "token", "/api/v1/messages/", "application/json", '{"text": "benchmark message %d"}'),
    ("ntfy POST /me, API token", "token", "/me", "text/plain", "benchmark message %d"),
    ("ntfy POST /me, integration", "ntfy", "/me", "text/plain", "benchmark message %d"),
    ("ntfy JSON to /", "token", "/", "application/json", '{"topic": "me", "message": "benchmark message %d"}'),
    ("Gotify POST /message", "gotify", "/message", "application/json", '{"message": "benchmark message %d"}'),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgres")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="turns each kind takes")
    parser.add_argument("--no-write", action="store_true", help="print the results, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it: apt-get install -y wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = {}
    with tempfile.TemporaryDirectory(prefix="tgrelay-publish-bench-") as scratch:
        for backend in args.backends.split(","):
            log(f"== {backend}")
            results[backend] = run(backend, Path(scratch) / backend, args.duration, args.rounds)
    text = render(results, args.duration, args.rounds)
    print(text)
    if not args.no_write:
        write_doc(text)
        log(f"wrote {DOC.relative_to(ROOT)}")
    return 0 if all(row["share"] >= GOAL_SHARE for rows in results.values() for row in rows) else 1


def run(backend: str, workdir: Path, duration: int, rounds: int) -> list[dict]:
    with (
        backend_env(backend, workdir) as backend_vars,
        Stack(workdir, backend_vars, accounts=ACCOUNTS, limits=None) as stack,
    ):
        secrets = stack.manage(INTEGRATIONS)
        files = {"token": workdir / "token.txt", "ntfy": workdir / "ntfy.txt", "gotify": workdir / "gotify.txt"}
        files["token"].write_text("".join(f"Authorization: Bearer {token}\n" for token in stack.tokens))
        files["ntfy"].write_text("".join(f"Authorization: Bearer {secret}\n" for secret in secrets["ntfy"]))
        files["gotify"].write_text("".join(f"X-Gotify-Key: {secret}\n" for secret in secrets["gotify"]))
        log(f"stack up: {stack.web_workers} gunicorn workers")
        # Warm-up: connections, imports and first queries in every worker, each way.
        for _, credential, path, content_type, body in KINDS:
            wrk(stack, files[credential], path, content_type, body, duration=2)
        measured: dict[str, list[dict]] = {label: [] for label, *_ in KINDS}
        for turn in range(rounds):
            for label, credential, path, content_type, body in KINDS:
                result = wrk(stack, files[credential], path, content_type, body, duration=duration)
                measured[label].append(result)
                log(f"round {turn + 1} {label}: {result['accepted_per_second']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
                    f"errors {result['errors']}, web CPU {result['web_cpu_ms']:.2f} ms/request")  # fmt: skip
        rows = []
        for label, runs in measured.items():
            median = sorted(runs, key=lambda r: r["accepted_per_second"])[len(runs) // 2]
            rows.append({"kind": label, **median, "rates": [r["accepted_per_second"] for r in runs]})
        native = rows[0]["accepted_per_second"]
        native_cpu = rows[0]["web_cpu_ms"]
        for row in rows:
            row["share"] = row["accepted_per_second"] / native if native else 0.0
            row["cpu_share"] = row["web_cpu_ms"] / native_cpu if native_cpu else 0.0
        return rows


def wrk(stack: Stack, credentials: Path, path: str, content_type: str, body: str, *, duration: float) -> dict:
    command = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{int(duration)}s", "--timeout", "10s", "--latency",
        "-s", str(LUA.relative_to(ROOT)), f"http://127.0.0.1:{stack.port}", "--",
        str(credentials), str(THREADS), path, content_type, body,
    ]  # fmt: skip
    # The machine may be shared: wait a little for quiet, then measure anyway (each kind alike).
    wait_for_quiet(stack, patience=20)
    before = cpu_snapshot(stack)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    cpu = cpu_used(before, cpu_snapshot(stack))
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT "))
    result = json.loads(line.removeprefix("BENCH-RESULT "))
    seconds = result["duration_us"] / 1e6
    # The native API answers 202, ntfy and Gotify 200.
    accepted = sum(n for status, n in result["statuses"].items() if status in ("200", "202"))
    return {
        "accepted_per_second": accepted / seconds,
        "errors": result["requests"] - accepted,
        "p50_ms": result["latency_us"]["p50"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000,
        "web_cpu_ms": cpu["web"] * 1000 / max(result["requests"], 1),
    }


def render(results: dict, duration: int, rounds: int) -> str:
    m = machine()
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `python -m bench.publish_bench` on {m['nproc']} CPUs "
        f"({m['cpu']}), Linux {m['kernel']}; wrk with {THREADS} threads and {CONNECTIONS} connections over "
        f"{ACCOUNTS} accounts, {duration} s a run, the median of {rounds} rounds taken in turns. Accepted: answered "
        f"202 (native) or 200 (ntfy, Gotify). Goal: each way at least {GOAL_SHARE:.0%} of the native API's rate.",
        "",
    ]
    for backend, rows in results.items():
        lines += [
            f"**{'PostgreSQL + Redis' if backend == 'postgres' else 'SQLite (embedded)'}**",
            "",
            "| way in | accepted/s | of native | p50 ms | p99 ms | web CPU ms | of native | errors | rounds (/s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for row in rows:
            goal = "" if row["share"] >= GOAL_SHARE else " ✗"
            rates = ", ".join(f"{rate:.0f}" for rate in row["rates"])
            lines.append(
                f"| {row['kind']} | {row['accepted_per_second']:.0f} | {row['share']:.0%}{goal} | {row['p50_ms']:.1f} "
                f"| {row['p99_ms']:.1f} | {row['web_cpu_ms']:.2f} | {row['cpu_share']:.0%} | {row['errors']} "
                f"| {rates} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in doc:
        start, end = doc.index(BEGIN), doc.index(END) + len(END)
        doc = doc[:start] + block + doc[end:]
    else:
        doc = doc.rstrip("\n") + "\n\n## ntfy and Gotify beside the native API\n\n" + block + "\n"
    DOC.write_text(doc)


if __name__ == "__main__":
    sys.exit(main())
