"""Telegram unreachable when the service starts, with the real launcher and processes.

`python -m config.run` (what `make run` starts) runs the web server, the
delivery worker and the bot poller against a Bot API address where nothing
listens yet. The API keeps accepting messages, /readyz says the Bot API is
what is missing, and once the simulated Telegram comes up on that address
the bot starts polling and the queued message is delivered, without
restarting anything.

An account is linked first, in a run with Telegram up, and that run is
stopped: a service restarted during an outage, with accounts to serve.
Pauses are short so the test heals in seconds: the bot's backoff is capped at
1 s, and /readyz trusts a Bot API answer for 1 s.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import HEADER, Processes, SimulatedTelegram, answers, free_port, service_env, wait_until

TOKEN = "100003:token-of-the-outage-tests"
PASSWORD = "correct horse battery staple"


class Service:
    def __init__(self, tmp_path: Path) -> None:
        self.web_port, self.tg_port = free_port(), free_port()
        self.tag = secrets.token_hex(4)
        # Telegram never reuses an update id, and the bot skips ids it has handled (in a
        # database other tests may share): each simulator here starts past any earlier id.
        self.update_ids = 10**12 + secrets.randbelow(10**15)
        self.telegram = SimulatedTelegram(self.tg_port)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.web_port}", timeout=10)
        env = service_env(
            tmp_path / "data",
            backends=True,
            QUEUE_NAME=f"tgrelay-outage-{self.tag}",
            PORT=str(self.web_port),
            WEB_WORKERS="1",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.telegram.url,
            TELEGRAM_TIMEOUT_SECONDS="1",
            BOT_BACKOFF_MAX_SECONDS="1",
            READYZ_TELEGRAM_CACHE_SECONDS="1",
            DELIVERY_BACKOFF_BASE_SECONDS="0.5",
            DELIVERY_BACKOFF_MAX_SECONDS="2",
            DELIVERY_MAX_ATTEMPTS="1000",
        )
        self.processes = Processes(tmp_path, env)
        self.processes.run("manage.py", "migrate", "--noinput")

    def start(self) -> None:
        self.processes.start("service", "-m", "config.run")
        wait_until(lambda: self.processes.alive("service") and answers(self.api, "/healthz"), what="the web server")

    def start_telegram(self) -> None:
        self.processes.start("telegram", "-m", "fakegram", "--port", str(self.tg_port), "--token", TOKEN)
        wait_until(lambda: self.processes.alive("telegram") and self.telegram.up(), what="the simulated Telegram")
        self.update_ids += 10**6
        self.telegram.http.post("/_control/updates", json={"update_id": self.update_ids}).raise_for_status()

    def register(self, role: str) -> dict[str, str]:
        body = {"username": f"{role}-{self.tag}", "password": PASSWORD, "name": role.capitalize()}
        assert self.api.post("/api/v1/auth/register/", json=body).status_code == 201
        token = self.api.post("/api/v1/auth/token/", json=body).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    def link(self, auth: dict[str, str], chat_id: int) -> str:
        """Open the deep link as a person does; returns the bot's answer."""
        code = self.api.post("/api/v1/telegram/link/", headers=auth).json()["code"]
        self.telegram.say(chat_id, f"/start {code}", language_code="en")
        return self.telegram.bot_replies(chat_id, 1)[-1]

    def readyz(self) -> httpx.Response:
        return self.api.get("/readyz")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path)
    try:
        yield running
    finally:
        running.api.close()  # gunicorn waits for open keep-alive connections before it exits
        running.processes.stop_all()
        for name in ("service", "telegram"):
            # Shown only when the test fails.
            print(f"--- {name} ---\n" + "\n".join(running.processes.logs(name).splitlines()[-40:]))


def test_the_service_starts_and_accepts_messages_while_telegram_is_down(service: Service) -> None:
    chat_id = 7_100_000_000 + secrets.randbelow(10**6)
    # An account linked while Telegram was up; then everything stops.
    service.start_telegram()
    service.start()
    alice = service.register("alice")
    assert "Alice" in service.link(alice, chat_id)
    assert service.processes.stop("service") == 0
    service.processes.stop("telegram")

    # Started again while nothing answers at the Bot API's address.
    service.start()
    accepted = service.api.post("/api/v1/messages/", json={"text": "sent during the outage"}, headers=alice)
    assert accepted.status_code == 202, accepted.text
    not_ready = service.readyz()
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"] == {
        "database": {"status": "ok"},
        "queue": {"status": "ok"},
        "telegram": {"status": "error", "error": "getMe: ConnectError"},
    }
    # The bot keeps trying, and says so each time; the web server and the worker stay up.
    wait_until(lambda: service.processes.logs("service").count("getMe failed") >= 3, what="the bot to retry getMe")
    assert service.processes.alive("service")
    assert answers(service.api, "/healthz")

    service.start_telegram()

    # What was accepted during the outage is delivered, and the bot answers again.
    [delivered] = service.telegram.wait_sent(1, chat_id=chat_id)
    assert delivered["text"] == HEADER.format(name="Alice") + "sent during the outage"
    bob = service.register("bob")
    assert "Bob" in service.link(bob, chat_id + 1)
    wait_until(lambda: service.readyz().status_code == 200, what="/readyz to see the Bot API again")
    history = service.api.get("/api/v1/messages/", headers=alice).json()["results"]
    assert [(m["text"], m["status"]) for m in history] == [("sent during the outage", "sent")]
    logs = service.processes.logs("service")
    assert TOKEN not in logs and TOKEN.partition(":")[2] not in logs
    assert service.processes.stop("service") == 0
