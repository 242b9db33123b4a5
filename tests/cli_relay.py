"""The installed `tgrelay` command against tg-relay's real processes, for tests/test_cli*.py.

The command is the one `pip install ./client` puts in the project's virtualenv
(`make test` installs it); `installed_tgrelay` installs it the same way when it
is missing or differs from the sources in client/. The service is the stack of
tests/test_destinations_live.py: the simulated Telegram, gunicorn, the bot
poller and the delivery worker as separate processes.
"""

import importlib.metadata
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.processes import HEADER, ROOT, wait_until
from tests.test_destinations_live import Relay

CLIENT = ROOT / "client"
COMMAND = Path(sys.executable).parent / "tgrelay"


def installed_tgrelay() -> Path:
    """The `tgrelay` command of the project's virtualenv, installed from client/ if it is not the current one."""
    if not COMMAND.exists() or not _installed_is_current():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", str(CLIENT)], check=True)
    assert _installed_is_current(), "pip did not install client/"
    return COMMAND


def _installed_is_current() -> bool:
    try:
        files = importlib.metadata.distribution("tgrelay").files or []
    except importlib.metadata.PackageNotFoundError:
        return False
    installed = {path.name: path for path in files if path.parent.as_posix() == "tgrelay" and path.suffix == ".py"}
    sources = {path.name: path for path in (CLIENT / "tgrelay").glob("*.py")}
    return installed.keys() == sources.keys() and all(
        Path(installed[name].locate()).read_bytes() == source.read_bytes() for name, source in sources.items()
    )


@dataclass
class Person:
    """An account with its private chat linked (the default destination, labelled `me`) and an API token."""

    name: str
    token: str
    chat_id: int

    @property
    def header(self) -> str:
        return HEADER.format(name=self.name)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class CliRelay:
    """The service's processes, an account on it, and a way to run `tgrelay` against them."""

    def __init__(self, tmp: Path, *, webhooks_to_private_addresses: bool = False) -> None:
        """With `webhooks_to_private_addresses`, the service sends webhooks to receivers on 127.0.0.1, as an
        operator allows with WEBHOOK_ALLOW_PRIVATE_ADDRESSES; otherwise it refuses them, as by default."""
        self.command = installed_tgrelay()
        self.tmp = tmp
        self.relay = Relay(tmp)
        # Requests that wait for an answer (`?wait=`) are held, each on a thread of its own.
        self.relay.processes.env["WAIT_SLOTS"] = "4"
        if webhooks_to_private_addresses:
            # Checked by the web process when an endpoint is made and by the worker at every send.
            self.relay.processes.env["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = "1"
        self.telegram = self.relay.telegram
        self.api = self.relay.api
        self.url = str(self.api.base_url).rstrip("/")

    def start(self) -> None:
        self.relay.start()

    def stop(self) -> None:
        self.relay.api.close()
        self.relay.processes.stop_all()
        for name in ("web", "bot", "worker", "telegram"):
            # Shown only when a test fails.
            print(f"--- {name} ---\n" + "\n".join(self.relay.processes.logs(name).splitlines()[-30:]))

    def person(self, role: str) -> Person:
        name = f"Cli {role} {self.relay.tag}"
        token = self.relay.register(role, name)["Authorization"].removeprefix("Bearer ")
        chat_id = 7_300_000_000 + secrets.randbelow(10**6)
        code = self.api.post("/api/v1/telegram/link/", headers={"Authorization": f"Bearer {token}"}).json()["code"]
        self.telegram.say(chat_id, f"/start {code}")
        assert name in self.telegram.bot_replies(chat_id, 1)[-1]
        return Person(name=name, token=token, chat_id=chat_id)

    def group(self, person: Person, label: str) -> int:
        """A group linked as the person's destination `label`, through the startgroup flow."""
        code = self.relay.new_destination(person.auth, label)["code"]
        group_id = self.relay.control("groups", title=label.title(), members={str(person.chat_id): "creator"})[
            "chat_id"
        ]
        self.relay.control(f"groups/{group_id}/add_bot", by=person.chat_id, start=code)
        wait_until(lambda: label in self.relay.destinations(person.auth), what=f"the group {label} to be linked")
        return group_id

    # -- the command ------------------------------------------------------------------

    def env(self, **variables: str) -> dict[str, str]:
        """The environment of a shell with nothing of tgrelay set, and a home of its own, plus `variables`."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("TGRELAY_")}
        env.pop("XDG_CONFIG_HOME", None)
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        env["HOME"] = str(home)
        env.update(variables)
        return env

    def configured(self, person: Person, **variables: str) -> dict[str, str]:
        """The environment with the address and the person's token, and `variables` over them."""
        return self.env(**{"TGRELAY_URL": self.url, "TGRELAY_TOKEN": person.token, **variables})

    def run(self, *args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self.command), *args], input=input, capture_output=True, text=True, env=env, timeout=120
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def start_command(self, *args: str, env: dict[str, str], **popen) -> subprocess.Popen:
        return subprocess.Popen([str(self.command), *args], env=env, text=True, **popen)

    # -- what arrived -----------------------------------------------------------------

    def message(self, person: Person, message_id: int) -> dict:
        answer = self.api.get(f"/api/v1/messages/{message_id}/", headers=person.auth)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_sent(self, person: Person, *message_ids: int) -> None:
        def all_sent() -> bool:
            return all(self.message(person, message_id)["status"] == "sent" for message_id in message_ids)

        wait_until(all_sent, what=f"messages {message_ids} to be sent")

    def delivered(self, person: Person, message_id: int, chat_id: int, since: int) -> list[dict]:
        """What the chat received after its first `since` messages, once the message is sent."""
        self.wait_sent(person, message_id)
        arrived = self.telegram.sent(chat_id)[since:]
        print(f"message {message_id} to {chat_id}: {arrived}")  # shown only when a test fails
        return arrived
