"""A real Prometheus Alertmanager delivers a firing alert and its resolution through the hook.

The simulated Telegram, the web server (gunicorn), the bot poller and the
delivery worker run as separate processes, as in tests/test_crash.py, and so
does Debian's prometheus-alertmanager, with its own storage, no cluster, and
a webhook receiver pointed at the hook URL the integrations API gave. The
test is only a client: it posts an alert to Alertmanager's API, then the same
alert ended, and reads what the chat received.

Skipped only where Alertmanager is missing outside CI; under CI a missing
Alertmanager fails (.ci/run installs prometheus-alertmanager).
"""

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.processes import HEADER, Processes, SimulatedTelegram, answers, free_port, service_env, wait_until

TOKEN = "100005:token-of-the-alertmanager-tests"
PASSWORD = "correct horse battery staple"
ALERT = {
    "alertname": "DiskFull",
    "severity": "critical",
    "instance": "nas:9100",
    "job": "node",
    "mountpoint": "/srv",
}
GENERATOR = "http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+1e9&g0.tab=1"


def alertmanager_binary() -> str:
    path = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("Alertmanager is missing: .ci/run installs it (apt-get install prometheus-alertmanager).")
    pytest.skip("Alertmanager is not installed (apt-get install prometheus-alertmanager)")


class Stack:
    """tg-relay's processes, the simulated Telegram and Alertmanager, and a client of each."""

    def __init__(self, tmp_path: Path, alertmanager: str) -> None:
        self.tmp_path = tmp_path
        self.binary = alertmanager
        self.web_port, self.tg_port, self.am_port = free_port(), free_port(), free_port()
        self.tag = secrets.token_hex(4)
        self.telegram = SimulatedTelegram(self.tg_port)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.web_port}", timeout=10)
        self.am_url = f"http://127.0.0.1:{self.am_port}"
        self.am = httpx.Client(base_url=self.am_url, timeout=10)
        self.am_process: subprocess.Popen | None = None
        # When the alert began: the same in every post of it, as Prometheus keeps it.
        self.started = datetime.now(UTC).replace(microsecond=0)
        env = service_env(
            tmp_path / "data",
            backends=True,
            QUEUE_NAME=f"tgrelay-alertmanager-{self.tag}",
            PUBLIC_URL=f"http://127.0.0.1:{self.web_port}",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.telegram.url,
            TELEGRAM_BOT_USERNAME="tgrelay_demo_bot",
            TELEGRAM_TIMEOUT_SECONDS="1",
            DELIVERY_BACKOFF_BASE_SECONDS="0.5",
            DELIVERY_BACKOFF_MAX_SECONDS="2",
        )
        self.processes = Processes(tmp_path, env)

    def start_relay(self) -> None:
        run = self.processes
        run.start("telegram", "-m", "fakegram", "--port", str(self.tg_port), "--token", TOKEN)
        run.run("manage.py", "migrate", "--noinput")
        run.start(
            "web", "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
            "--workers", "1", "--threads", "4", "--no-control-socket",
        )  # fmt: skip
        run.start("bot", "manage.py", "runbot")
        run.start("worker", "manage.py", "run_huey")
        wait_until(lambda: run.alive("telegram") and self.telegram.up(), what="the simulated Telegram")
        # A fresh simulator counts update ids from 1; the bot skips ids an earlier test's run handled.
        first_update = {"update_id": 10**12 + secrets.randbelow(10**15)}
        self.telegram.http.post("/_control/updates", json=first_update).raise_for_status()
        wait_until(lambda: run.alive("web") and answers(self.api, "/"), what="the web server")

    def start_alertmanager(self, hook_url: str) -> None:
        config = self.tmp_path / "alertmanager.yml"
        config.write_text(
            "route:\n"
            "  receiver: tg-relay\n"
            "  group_by: [alertname]\n"
            "  group_wait: 1s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 24h\n"
            "receivers:\n"
            "  - name: tg-relay\n"
            "    webhook_configs:\n"
            f"      - url: {hook_url}\n"
            "        send_resolved: true\n"
        )
        log = (self.tmp_path / "alertmanager.log").open("w")
        self.am_process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.path={self.tmp_path / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{self.am_port}",
                f"--web.external-url={self.am_url}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=log,
            stderr=log,
        )
        wait_until(lambda: self._am_alive() and answers(self.am, "/-/ready"), what="Alertmanager")

    def _am_alive(self) -> bool:
        if self.am_process.poll() is not None:
            raise AssertionError(f"Alertmanager exited with {self.am_process.returncode}:\n{self.am_log()}")
        return True

    def am_log(self) -> str:
        path = self.tmp_path / "alertmanager.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        self.api.close()  # gunicorn waits for open keep-alive connections before it exits
        self.am.close()
        if self.am_process is not None and self.am_process.poll() is None:
            self.am_process.terminate()
            try:
                self.am_process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.am_process.kill()
                self.am_process.wait()
        self.processes.stop_all()

    # -- as a user ------------------------------------------------------------------------------------------

    def register_and_link(self, name: str, chat_id: int) -> dict[str, str]:
        body = {"username": f"ops-{self.tag}", "password": PASSWORD, "name": name}
        assert self.api.post("/api/v1/auth/register/", json=body).status_code == 201
        auth = {"Authorization": "Bearer " + self.api.post("/api/v1/auth/token/", json=body).json()["token"]}
        code = self.api.post("/api/v1/telegram/link/", headers=auth).json()["code"]
        self.telegram.say(chat_id, f"/start {code}")
        assert name in self.telegram.bot_replies(chat_id, 1)[-1]
        return auth

    def fire(self, *, ends_at: datetime) -> None:
        """Post the alert to Alertmanager's API, as Prometheus does on every evaluation."""
        alert = {
            "labels": ALERT,
            "annotations": {"summary": "Less than 1 GB free on /srv", "description": "Clean up or grow the disk."},
            "startsAt": self.started.isoformat(),
            "endsAt": ends_at.isoformat(),
            "generatorURL": GENERATOR,
        }
        response = self.am.post("/api/v2/alerts", json=[alert])
        assert response.status_code == 200, response.text


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path, alertmanager_binary())
    try:
        running.start_relay()
        yield running
    finally:
        running.stop()
        # Shown only when the test fails.
        for name in ("web", "worker", "telegram"):
            print(f"--- {name} ---\n" + "\n".join(running.processes.logs(name).splitlines()[-30:]))
        print("--- alertmanager ---\n" + "\n".join(running.am_log().splitlines()[-30:]))


def test_alertmanager_delivers_firing_then_resolved_through_the_hook(stack: Stack) -> None:
    version = subprocess.run([stack.binary, "--version"], capture_output=True, text=True, timeout=30)
    print("alertmanager:", (version.stdout or version.stderr).splitlines()[0])
    name = f"Ops {stack.tag}"
    header = HEADER.format(name=name)
    chat_id = 7_300_000_000 + secrets.randbelow(10**6)
    auth = stack.register_and_link(name, chat_id)
    made = stack.api.post("/api/v1/integrations/", json={"kind": "alertmanager", "name": "prod"}, headers=auth)
    assert made.status_code == 201, made.text
    hook_url = made.json()["url"]
    assert hook_url.startswith(f"http://127.0.0.1:{stack.web_port}/hooks/") and hook_url.endswith("/alertmanager")
    stack.start_alertmanager(hook_url)

    def relayed() -> list[dict]:
        return [m for m in stack.telegram.sent(chat_id) if m["text"].startswith(header)]

    stack.fire(ends_at=datetime.now(UTC) + timedelta(hours=1))
    [firing] = wait_until(relayed, timeout=60, what="the firing notification")
    text = firing["text"].removeprefix(header)
    assert text.startswith("🔥 FIRING: DiskFull (1)\nDiskFull · critical\nLess than 1 GB free on /srv\n")
    assert "instance: nas:9100 · job: node · mountpoint: /srv" in text
    # Critical: it rings even though nothing asked for sound.
    assert "disable_notification" not in firing
    links = {entity["url"] for entity in firing["entities"] if entity["type"] == "text_link"}
    silence = stack.am_url + "/#/silences/new?filter=%7Balertname%3D%22DiskFull%22%7D"
    assert links == {GENERATOR, silence, stack.am_url}

    # Ended: Alertmanager sends the resolution at the group's next turn.
    stack.fire(ends_at=datetime.now(UTC) - timedelta(seconds=1))
    both = wait_until(lambda: len(relayed()) >= 2 and relayed(), timeout=60, what="the resolved notification")
    resolved = both[1]["text"].removeprefix(header)
    assert resolved.startswith("✅ RESOLVED: DiskFull (1)\nDiskFull · critical\n")
    assert ", resolved " in resolved
    assert stack.am_url + "/#/silences" not in str(both[1]["entities"])

    history = stack.api.get("/api/v1/messages/", headers=auth).json()["results"]
    assert [(m["status"], m["format"]) for m in history] == [("sent", "markdown")] * 2
    [integration] = stack.api.get("/api/v1/integrations/", headers=auth).json()
    assert integration["last_used_at"] is not None
    # One notification each: no retry made a second message.
    assert len(relayed()) == 2
