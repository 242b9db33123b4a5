"""Instructions one accepted message costs, counted by valgrind: the same figure however busy the machine is.

CPU time of the same request moved by half within minutes on a shared
machine (docs/benchmarks.md); callgrind counts the instructions executed,
which do not move. The whole `POST /api/v1/messages/` runs in one process
through Django's test client, as in bench/profile.py, N times after a
warm-up; two runs (50 and 250 requests) are subtracted, so start-up and
migrations cancel out. Needs Debian's valgrind. `--tree` measures another
checkout (made with `git worktree add`) with this checkout's interpreter.

    python -m bench.instructions [--tree PATH]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEW, MANY = 50, 250


def requests(tree: Path, count: int) -> None:
    """Run `count` accepted messages in process (what valgrind counts)."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        ALLOWED_HOSTS="testserver",
        TELEGRAM_BOT_TOKEN="424242:benchmark-token-not-secret",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        TELEGRAM_BOT_USERNAME="tgrelay_bench_bot",
        MESSAGES_PER_MINUTE="1000000",
        DATA_DIR=tempfile.mkdtemp(),
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from accounts.services import issue_token

    call_command("migrate", verbosity=0)
    user = User.objects.create(username="bench", name="Bench")
    try:
        from relay.models import Destination

        Destination.objects.create(user=user, label="me", kind="private", chat_id=700_001, is_default=True)
    except ImportError:
        # A tree from before destinations links a chat.
        from relaybot.models import Chat

        Chat.objects.create(user=user, chat_id=700_001)
    _, token = issue_token(user=user)
    client, body = Client(), json.dumps({"text": "benchmark message"})
    for _ in range(count):
        response = client.post(
            "/api/v1/messages/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        if response.status_code != 202:
            raise SystemExit(f"{response.status_code}: {response.content!r}")


def counted(tree: Path, count: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.instructions",
        "--tree",
        str(tree),
        "--requests",
        str(count),
    ]
    # A fixed hash seed: dictionaries and sets then lay out alike in every run.
    run = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True, check=True
    )
    return int(re.search(r"Collected : (\d+)", run.stderr)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests is not None:
        requests(args.tree.resolve(), args.requests)
        return
    few, many = counted(args.tree, FEW), counted(args.tree, MANY)
    per_request = (many - few) / (MANY - FEW)
    print(json.dumps({"tree": str(args.tree), "instructions_per_request": round(per_request)}))


if __name__ == "__main__":
    main()
