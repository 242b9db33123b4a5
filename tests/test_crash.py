"""Crashes and outages, with the real processes.

The simulated Telegram, the web server (gunicorn), the bot poller and the
delivery worker (`manage.py run_huey`) run as separate processes, exactly as
a deployment runs them: on a fresh SQLite database, or on the PostgreSQL and
Redis the test run is given in DATABASE_URL and REDIS_URL. Timings are short
so a crash heals in seconds: a Bot API timeout of 1 s, and backoff from 0.5 s
up to 2 s; but a delivery lease of ten minutes, longer than any test waits.
The test is only a client: it registers users, links their chats through the
bot, posts messages to the API, and scripts Telegram through the simulator's
control API.

What is checked:

- The worker is killed with SIGKILL in the middle of a burst, twice, and
  restarted at once: the new worker takes over the chats the dead one held,
  long before their leases would expire, and every accepted message is
  delivered, each chat sees them in accepted order, and a chat sees a message
  twice only if a kill fell while that message was with Telegram (sent but
  not yet recorded). One chat has one message in flight at most, so per chat
  the copies are at most the number of kills, each right behind its original.
- Telegram answers 500, or drops the connection, to every send for a while:
  the API keeps accepting, everything is delivered afterwards, exactly once
  and in order, and there is no request storm. Every refused request is one
  failed attempt recorded on a message, and only the oldest message of each
  chat is ever attempted, because the ones behind it wait for it.
- A chat that blocked the bot: its message fails at once with the reason and
  is not tried again, not even by the sweep of a restarted worker; the API
  refuses new messages for it with 409 until the chat is linked again, and
  then delivery resumes.

Waiting is bounded polling of the API or of the simulator; the assertions are
about counts, order and states, never about how long something took.
"""

import itertools
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.processes import HEADER, Processes, SimulatedTelegram, answers, free_port, service_env, wait_until

TOKEN = "100002:token-of-the-crash-tests"
LEASE_SECONDS = 600
MAX_ATTEMPTS = 12
PASSWORD = "correct horse battery staple"


@dataclass
class User:
    username: str
    name: str
    chat_id: int
    headers: dict[str, str]


class Relay:
    """tg-relay's processes against the simulated Telegram, and a client of its API."""

    def __init__(self, tmp_path: Path) -> None:
        self.web_port, self.tg_port = free_port(), free_port()
        # This test's own usernames, chat ids and queue: with DATABASE_URL and
        # REDIS_URL set, every test of the run shares one database and one Redis.
        self.tag = secrets.token_hex(4)
        self.chat_ids = itertools.count(7_000_000_000 + secrets.randbelow(10**6) * 1000)
        self.telegram = SimulatedTelegram(self.tg_port)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.web_port}", timeout=10)
        env = service_env(
            tmp_path / "data",
            backends=True,
            QUEUE_NAME=f"tgrelay-crash-{self.tag}",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.telegram.url,
            TELEGRAM_BOT_USERNAME="tgrelay_demo_bot",
            TELEGRAM_TIMEOUT_SECONDS="1",
            DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
            DELIVERY_BACKOFF_BASE_SECONDS="0.5",
            DELIVERY_BACKOFF_MAX_SECONDS="2",
            DELIVERY_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            # Pacing has tests of its own; here a chat may receive back to back.
            DELIVERY_CHAT_INTERVAL_SECONDS="0",
            MESSAGES_PER_MINUTE="1000",
            LOGIN_RATE="1000/min",
            WORKER_THREADS="4",
        )
        self.processes = Processes(tmp_path, env)

    def start(self) -> None:
        run = self.processes
        run.start("telegram", "-m", "fakegram", "--port", str(self.tg_port), "--token", TOKEN)
        run.run("manage.py", "migrate", "--noinput")
        run.start(
            "web", "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
            "--workers", "1", "--threads", "4", "--no-control-socket",
        )  # fmt: skip
        run.start("bot", "manage.py", "runbot")
        self.start_worker()
        wait_until(lambda: run.alive("telegram") and self.telegram.up(), what="the simulated Telegram")
        # Telegram never reuses an update id, and the bot skips ids it has handled; a fresh
        # simulator counts from 1, so this one starts past any id an earlier test left behind.
        first_update = {"update_id": 10**12 + secrets.randbelow(10**15)}
        self.telegram.http.post("/_control/updates", json=first_update).raise_for_status()
        wait_until(lambda: run.alive("web") and self._web_up(), what="the web server")

    def start_worker(self) -> None:
        self.processes.start("worker", "manage.py", "run_huey")

    def _web_up(self) -> bool:
        return answers(self.api, "/")

    # -- as a user of the API -------------------------------------------------

    def user(self, role: str) -> User:
        """Register, log in and link a chat of the user's own through the bot."""
        username, name = f"{role}-{self.tag}", role.capitalize()
        body = {"username": username, "password": PASSWORD, "name": name}
        assert self.api.post("/api/v1/auth/register/", json=body).status_code == 201
        token = self.api.post("/api/v1/auth/token/", json=body).json()["token"]
        user = User(username, name, next(self.chat_ids), {"Authorization": f"Bearer {token}"})
        self.link(user)
        return user

    def link(self, user: User) -> None:
        """Link the user's chat the way a person does: open the deep link, the bot confirms."""
        code = self.api.post("/api/v1/telegram/link/", headers=user.headers).json()["code"]
        replies = len(self.telegram.sent(user.chat_id))
        self.telegram.say(user.chat_id, f"/start {code}")
        assert user.name in self.telegram.bot_replies(user.chat_id, replies + 1)[-1]

    def post(self, user: User, text: str) -> httpx.Response:
        return self.api.post("/api/v1/messages/", json={"text": text}, headers=user.headers)

    def history(self, user: User) -> list[dict]:
        """The user's messages, oldest first."""
        messages, url = [], "/api/v1/messages/"
        while url:
            page = self.api.get(url, headers=user.headers).json()
            messages.extend(page["results"])
            url = page["next"]
        return messages[::-1]

    def wait_settled(self, *users: User, timeout: float = 60) -> dict[str, list[dict]]:
        """Every user's history once nothing is queued any more."""

        def settled():
            histories = {user.username: self.history(user) for user in users}
            queued = any(m["status"] == "queued" for history in histories.values() for m in history)
            return None if queued else histories

        return wait_until(settled, timeout=timeout, what="every message to be sent or failed")

    def delivered(self, user: User) -> list[str]:
        """The texts the user's chat received from the relay, in the order Telegram took them."""
        header = HEADER.format(name=user.name)
        texts = [message["text"] for message in self.telegram.sent(user.chat_id)]
        return [text.removeprefix(header) for text in texts if text.startswith(header)]

    def failed_sends(self) -> int:
        """sendMessage requests Telegram did not take, whatever the reason."""
        return self.telegram.requests("sendMessage") - len(self.telegram.sent())


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    running = Relay(tmp_path)
    try:
        running.start()
        yield running
    finally:
        running.api.close()  # gunicorn waits for open keep-alive connections before it exits
        running.processes.stop_all()
        for name in ("web", "bot", "worker", "telegram"):
            # Shown only when the test fails.
            print(f"--- {name} ---\n" + "\n".join(running.processes.logs(name).splitlines()[-30:]))


def test_killed_worker_loses_nothing_and_resends_only_what_was_in_flight(relay: Relay) -> None:
    users = [relay.user(f"burst{number}") for number in range(3)]
    # Telegram takes 0.2 s per message, so the burst is still going out when the worker dies.
    relay.telegram.add_fault(kind="slow", delay=0.2, times=-1)
    before = len(relay.telegram.sent())
    accepted: dict[str, list[str]] = {user.username: [] for user in users}
    for number in range(20):
        for user in users:
            text = f"burst {number} for {user.username}"
            assert relay.post(user, text).status_code == 202
            accepted[user.username].append(text)

    kills = 0
    for progress in (15, 35):
        relay.telegram.wait_sent(before + progress)
        relay.processes.kill("worker")
        kills += 1
        relay.start_worker()

    histories = relay.wait_settled(*users)
    assert {m["status"] for history in histories.values() for m in history} == {"sent"}
    for user in users:
        delivered = relay.delivered(user)
        assert list(dict.fromkeys(delivered)) == accepted[user.username]
        repeats = [text for previous, text in zip(delivered, delivered[1:], strict=False) if previous == text]
        # Every extra copy sits right behind its original, and there are no more of them than kills.
        assert len(delivered) - len(accepted[user.username]) == len(repeats) <= kills


@pytest.mark.parametrize("kind", ["500", "drop"], ids=["answers 500", "drops connections"])
def test_telegram_outage_is_waited_out_with_backoff(relay: Relay, kind: str) -> None:
    users = [relay.user(f"outage{number}") for number in range(3)]
    requests_before, sent_before = relay.telegram.requests(), len(relay.telegram.sent())
    accepted: dict[str, list[str]] = {user.username: [] for user in users}

    def post_round(number: int) -> None:
        for user in users:
            text = f"outage {number} for {user.username}"
            assert relay.post(user, text).status_code == 202
            accepted[user.username].append(text)

    relay.telegram.add_fault(kind=kind, times=-1)
    post_round(0)
    post_round(1)
    wait_until(lambda: relay.telegram.requests() >= requests_before + 2 * len(users), what="failed sends")
    # Telegram has been down for a while; the API keeps accepting.
    post_round(2)
    post_round(3)
    wait_until(lambda: relay.telegram.requests() >= requests_before + 4 * len(users), what="more failed sends")
    relay.telegram.clear_faults()

    histories = relay.wait_settled(*users)
    for user in users:
        assert [m["status"] for m in histories[user.username]] == ["sent"] * 4
        assert relay.delivered(user) == accepted[user.username]

    failed = relay.telegram.requests() - requests_before - (len(relay.telegram.sent()) - sent_before)
    assert failed >= 4 * len(users)
    attempts = {user.username: [m["attempts"] for m in histories[user.username]] for user in users}
    # Each refused request is one recorded attempt, all of them on the oldest message of
    # its chat: the messages behind it waited instead of adding requests of their own.
    assert failed == sum(sum(counts) for counts in attempts.values())
    for counts in attempts.values():
        assert counts[0] >= 1
        assert counts[1:] == [0, 0, 0]
    assert failed <= len(users) * (MAX_ATTEMPTS - 1)


def test_blocked_chat_fails_fast_and_is_refused_until_linked_again(relay: Relay) -> None:
    blocker, other = relay.user("blocker"), relay.user("bystander")
    relay.telegram.block(blocker.chat_id)

    assert relay.post(blocker, "into the void").status_code == 202
    [message] = relay.wait_settled(blocker)[blocker.username]
    assert message["status"] == "failed"
    assert "bot was blocked by the user" in message["error"]
    assert relay.failed_sends() == 1

    refused = relay.post(blocker, "anyone there?")
    assert refused.status_code == 409
    assert refused.json()["code"] == "chat_unreachable"
    assert "blocked" in refused.json()["detail"]

    # A restarted worker sweeps for due messages: the failed one is not among them.
    assert relay.processes.stop("worker", signal.SIGINT) == 0
    relay.start_worker()
    assert relay.post(other, "others are not held up").status_code == 202
    relay.wait_settled(other)
    assert relay.delivered(other) == ["others are not held up"]
    assert relay.failed_sends() == 1

    # Unblocking the bot in Telegram is not enough: the account links the chat again.
    relay.telegram.unblock(blocker.chat_id)
    assert relay.post(blocker, "still refused").status_code == 409
    relay.link(blocker)
    assert relay.post(blocker, "back again").status_code == 202

    history = relay.wait_settled(blocker)[blocker.username]
    assert [(m["text"], m["status"]) for m in history] == [("into the void", "failed"), ("back again", "sent")]
    assert relay.delivered(blocker) == ["back again"]
    assert relay.failed_sends() == 1
