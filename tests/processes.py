"""Running the service's real processes for tests, and talking to them over HTTP.

Each process gets the environment a deployment would give it, minus whatever
the test run itself has set (settings module, Telegram, database, queue), and
logs to a file in the test's temporary directory, shown when something fails.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HEADER = "{name}, я получил от тебя сообщение:\n"
# Variables of the test run that must not leak into the service's processes.
TEST_ONLY = ("TELEGRAM_", "DJANGO_", "PROMETHEUS_MULTIPROC_DIR")
BACKENDS = ("DATABASE_URL", "REDIS_URL", "QUEUE_NAME")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float = 30, what: str = "condition"):
    """Poll `check` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def answers(client: httpx.Client, path: str) -> bool:
    """Whether the server behind `client` answers `path` with 200 yet."""
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def service_env(data_dir: Path, *, backends: bool = False, **overrides: str) -> dict[str, str]:
    """The environment of a fresh installation with its data in `data_dir`.

    With `backends`, the processes use the PostgreSQL and Redis the test run
    is given (DATABASE_URL, REDIS_URL), if any; otherwise SQLite in `data_dir`.
    """
    left_out = TEST_ONLY if backends else TEST_ONLY + BACKENDS
    env = {key: value for key, value in os.environ.items() if not key.startswith(left_out)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


class Processes:
    """Named child processes started from the project root, each logging to its own file."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.running: dict[str, subprocess.Popen] = {}
        self.started: dict[str, int] = {}

    def run(self, *args: str) -> None:
        """Run a command to completion, e.g. `manage.py migrate`."""
        subprocess.run([sys.executable, *args], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        self.started[name] = self.started.get(name, 0) + 1
        log = (self.log_dir / f"{name}.{self.started[name]}.log").open("w")
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.running[name] = process
        return process

    def alive(self, name: str) -> bool:
        if self.running[name].poll() is not None:
            raise AssertionError(f"{name} exited with {self.running[name].returncode}:\n{self.logs(name)}")
        return True

    def kill(self, name: str) -> None:
        """SIGKILL: no cleanup, no goodbye, as when the machine loses power."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str, signum: int = signal.SIGTERM) -> int:
        process = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(signum)
        try:
            return process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name in list(self.running):
            self.stop(name)

    def logs(self, name: str) -> str:
        return "\n".join(path.read_text() for path in sorted(self.log_dir.glob(f"{name}.*.log")))


class SimulatedTelegram:
    """A client of the simulated Telegram's control API (fakegram/server.py)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=70)

    def up(self) -> bool:
        return answers(self.http, "/_control/faults")

    def say(self, user_id: int, text: str, language_code: str = "ru") -> None:
        body = {"text": text, "first_name": "Tester", "language_code": language_code}
        self.http.post(f"/_control/users/{user_id}/messages", json=body).raise_for_status()

    def sent(self, chat_id: int | None = None) -> list[dict]:
        params = {} if chat_id is None else {"chat_id": chat_id}
        return self.http.get("/_control/sent", params=params).json()["messages"]

    def wait_sent(self, count: int, chat_id: int | None = None, timeout: float = 30) -> list[dict]:
        """At least `count` messages sent (to chat_id), waiting up to `timeout`; fails otherwise."""
        params = {"count": count, "timeout": timeout}
        if chat_id is not None:
            params["chat_id"] = chat_id
        messages = self.http.get("/_control/wait_sent", params=params).json()["messages"]
        assert len(messages) >= count, f"expected {count} messages in chat {chat_id}, got {messages}"
        return messages

    def bot_replies(self, chat_id: int, count: int) -> list[str]:
        return [message["text"] for message in self.wait_sent(count, chat_id)]

    def requests(self, method: str = "sendMessage") -> int:
        """Bot API calls of `method` received so far, answered or not."""
        return self.http.get("/_control/requests").json()["counts"].get(method, 0)

    def add_fault(self, **rule) -> None:
        self.http.post("/_control/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete("/_control/faults").raise_for_status()

    def block(self, chat_id: int) -> None:
        self.http.post(f"/_control/chats/{chat_id}/block").raise_for_status()

    def unblock(self, chat_id: int) -> None:
        self.http.post(f"/_control/chats/{chat_id}/unblock").raise_for_status()
