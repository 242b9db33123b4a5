"""The real processes of `make run`, in demo mode, walked through over HTTP.

Web server, delivery worker, bot poller and the simulated Telegram run as
separate processes, exactly as `python -m config.run` starts them; the test
is a client of the API and of the simulated Telegram's control API.
"""

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import HEADER, ROOT, SimulatedTelegram, answers, free_port, service_env, wait_until


class Service:
    def __init__(self, tmp_path: Path) -> None:
        self.port, self.tg_port = free_port(), free_port()
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self.telegram = SimulatedTelegram(self.tg_port)
        self.env = service_env(
            tmp_path / "data", PORT=str(self.port), DEMO_TELEGRAM_PORT=str(self.tg_port), WEB_WORKERS="1"
        )
        self.log = tmp_path / "service.log"

    def start(self) -> None:
        # `make run` migrates, then starts the launcher.
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env, check=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config.run"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._up, what="the web server to answer")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the service exited early:\n{self.log.read_text()}")
        return answers(self.api, "/")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()

    def say(self, user_id: int, text: str, language_code: str = "ru") -> None:
        self.telegram.say(user_id, text, language_code)

    def bot_replies(self, chat_id: int, count: int) -> list[str]:
        return self.telegram.bot_replies(chat_id, count)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path)
    running.start()
    yield running
    if running.process.poll() is None:
        running.stop()


def test_assignment_flow_through_real_processes(service: Service) -> None:
    api = service.api

    # Sign up and log in on the assignment's routes.
    signup = api.post(
        "/users/signup",
        json={"username": "ivan", "password": "s3cret-pass-1", "password_repeat": "s3cret-pass-1", "name": "Иван"},
    )
    assert signup.status_code == 201, signup.text
    login = api.post("/users/login", json={"username": "ivan", "password": "s3cret-pass-1"})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['token']}"}

    # Before a chat is linked, a message is refused with a reason.
    refused = api.post("/message/sent", json={"content": "too early"}, headers=auth)
    assert refused.status_code == 409

    # Write to the bot, receive a verification code, submit it.
    service.say(5001, "привет")
    reply = service.bot_replies(5001, 1)[0]
    code = re.search(r"^([A-Z0-9]{8})$", reply, re.MULTILINE).group(1)
    verified = api.patch("/bot/verify", json={"verification_code": code}, headers=auth)
    assert verified.status_code == 200, verified.text
    assert verified.json()["chat"]["chat_id"] == 5001

    # Send a message; the worker delivers it to the linked chat.
    text = "Первая строка\n<b>&amp;</b> *bold* _x_ 🚀"
    accepted = api.post("/message/sent", json={"content": text}, headers=auth)
    assert accepted.status_code == 202, accepted.text
    delivered = service.bot_replies(5001, 2)
    assert delivered[1] == HEADER.format(name="Иван") + text

    # The history shows the message as sent, with its date.
    def listed_as_sent():
        history = api.get("/message/sent", headers=auth).json()
        return history if history and history[0]["status"] == "sent" else None

    history = wait_until(listed_as_sent, what="the message to be listed as sent")
    assert [(item["content"], bool(item["date"])) for item in history] == [(text, True)]


def test_deep_link_and_shutdown(service: Service) -> None:
    api = service.api
    api.post("/api/v1/auth/register/", json={"username": "olga", "password": "s3cret-pass-2", "name": "Olga"})
    token = api.post("/api/v1/auth/token/", json={"username": "olga", "password": "s3cret-pass-2"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}

    link = api.post("/api/v1/telegram/link/", headers=auth).json()
    assert link["deep_link"] == f"https://t.me/tgrelay_demo_bot?start={link['code']}"
    service.say(6001, f"/start {link['code']}", language_code="en")
    assert "Olga" in service.bot_replies(6001, 1)[0]

    for number in range(3):
        assert api.post("/api/v1/messages/", json={"text": f"n{number}"}, headers=auth).status_code == 202
    texts = service.bot_replies(6001, 4)[1:]
    assert texts == [HEADER.format(name="Olga") + f"n{number}" for number in range(3)]

    assert service.stop() == 0
