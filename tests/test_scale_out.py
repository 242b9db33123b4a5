"""Pacing and scale-out with real processes: two delivery workers, the simulated Telegram enforcing its limits.

A burst of 500 messages over 100 chats, plus 30 to a single chat, is
accepted by the web server and delivered by two `run_huey` workers side by
side. The simulated Telegram answers 429 to anything over 30 messages a
second or 1 a second per chat, as Telegram does. Everything must arrive,
once, in per-chat order, with no 429 at all.

With REDIS_URL set, both workers draw from one Redis rate bucket; on the
embedded default each worker has its own in-memory bucket, so each gets
half of the budget, which is how such a deployment must be configured.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.processes import ROOT, answers, free_port, wait_until

CHATS = 100
PER_CHAT = 5
SINGLE_CHAT_BURST = 30
BUSY_CHAT_ID = 990_000
FIRST_CHAT_ID = 900_000

SEED = """
import json
from accounts.models import User
from accounts.services import issue_token
from relay import destinations
tokens = {}
for chat_id in [%(busy)d] + list(range(%(first)d, %(first)d + %(chats)d)):
    user, _ = User.objects.get_or_create(username=f"user{chat_id}", defaults={"name": f"User {chat_id}"})
    destinations.link(user=user, chat=destinations.ChatInfo(chat_id=chat_id, kind="private"))
    tokens[chat_id] = issue_token(user=user)[1]
print(json.dumps(tokens))
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict]:
    tg_port, web_port = free_port(), free_port()
    shared_budget = bool(os.environ.get("REDIS_URL"))
    inherited = ("TELEGRAM_", "DJANGO_", "PROMETHEUS_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(tmp_path / "data"),
        TELEGRAM_BOT_TOKEN="424242:scale-out-test",
        TELEGRAM_API_URL=f"http://127.0.0.1:{tg_port}",
        # Shared, 20 of Telegram's 30 a second: a send leaves its place in the bucket for the wire a moment later,
        # and on a busy machine a stall of a few hundred milliseconds bunches the sends of both workers at the
        # simulator. Without sharing, both workers at 20 would still go well past 30 and draw 429s.
        DELIVERY_GLOBAL_RATE="20" if shared_budget else "12",
        MESSAGES_PER_MINUTE="1000",
        QUEUE_NAME=f"scale-out-{tg_port}",
        PYTHONUNBUFFERED="1",
    )
    processes = []

    def start(name: str, *command: str) -> Path:
        log = tmp_path / f"{name}.log"
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT))
        return log

    try:
        start("fakegram", sys.executable, "-m", "fakegram", "--port", str(tg_port))
        control = httpx.Client(base_url=f"http://127.0.0.1:{tg_port}", timeout=200)
        wait_until(lambda: answers(control, "/_control/requests"), what="the simulated Telegram")
        control.post("/_control/limits", json={"per_chat_per_second": 1, "global_per_second": 30}).raise_for_status()

        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
        seed = SEED % {"busy": BUSY_CHAT_ID, "first": FIRST_CHAT_ID, "chats": CHATS}
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", seed],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        tokens = {int(chat_id): token for chat_id, token in json.loads(seeded.stdout.strip().splitlines()[-1]).items()}

        start("web", sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{web_port}",
              "--workers", "2", "--threads", "4", "--no-control-socket")  # fmt: skip
        api = httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=30)
        wait_until(lambda: answers(api, "/"), what="the web server")
        workers = [start(f"worker{number}", sys.executable, "manage.py", "run_huey") for number in (1, 2)]
        yield {"api": api, "control": control, "tokens": tokens, "logs": tmp_path, "workers": workers}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_burst_is_delivered_completely_in_order_once_and_without_429(stack: dict) -> None:
    api, control, tokens = stack["api"], stack["control"], stack["tokens"]
    expected: dict[int, list[str]] = defaultdict(list)
    plan = [(BUSY_CHAT_ID, f"busy {number}") for number in range(SINGLE_CHAT_BURST)]
    for number in range(PER_CHAT):
        plan += [
            (chat_id, f"chat {chat_id} message {number}") for chat_id in range(FIRST_CHAT_ID, FIRST_CHAT_ID + CHATS)
        ]

    def accept(chat_id: int, text: str) -> int:
        headers = {"Authorization": f"Bearer {tokens[chat_id]}"}
        return api.post("/api/v1/messages/", json={"text": text}, headers=headers).status_code

    # Per chat, requests go one after another, so the accepted order is known;
    # different chats are submitted concurrently.
    by_chat: dict[int, list[str]] = defaultdict(list)
    for chat_id, text in plan:
        by_chat[chat_id].append(text)

    def submit_chat(chat_id: int) -> list[int]:
        statuses = []
        for text in by_chat[chat_id]:
            statuses.append(accept(chat_id, text))
            expected[chat_id].append(f"User {chat_id}, я получил от тебя сообщение:\n{text}")
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for chat_statuses in pool.map(submit_chat, by_chat) for status in chat_statuses]
    assert statuses == [202] * len(plan)

    total = len(plan)
    waited = control.get("/_control/wait_sent", params={"count": total, "timeout": 60}).json()
    for _ in range(2):  # 60 s is the control API's cap on one wait
        if waited["complete"]:
            break
        waited = control.get("/_control/wait_sent", params={"count": total, "timeout": 60}).json()
    delivered: dict[int, list[str]] = defaultdict(list)
    for record in waited["messages"]:
        delivered[record["chat_id"]].append(record["text"])

    assert waited["complete"], f"{len(waited['messages'])} of {total} delivered; logs in {stack['logs']}"
    assert dict(delivered) == dict(expected)
    assert control.get("/_control/requests").json()["rate_limited"] == 0
    # Both workers took part.
    for log in stack["workers"]:
        assert " sent in " in log.read_text(), f"{log.name} delivered nothing"
