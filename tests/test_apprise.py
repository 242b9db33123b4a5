"""Apprise, a real client none of us wrote, delivers through ntfy, Gotify and the generic hook.

The simulated Telegram, gunicorn, the bot poller and the delivery worker run
as separate processes (tests/processes.py), on a fresh SQLite database or on
the PostgreSQL and Redis of DATABASE_URL and REDIS_URL. The test registers
an account, links its private chat the way a person does, makes an ntfy, a
Gotify and a webhook integration through the API, then sends with Apprise's
Python API to `ntfy://` (password, API token, integration secret),
`gotify://`, `json://` and `form://`, and finds each message in what the
simulated Telegram was sent, with its title and formatting as entities.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path

import apprise
import httpx
import pytest

from tests.processes import HEADER, Processes, SimulatedTelegram, answers, free_port, service_env, wait_until

TOKEN = "100007:token-of-the-apprise-tests"
BOT = "tgrelay_apprise_bot"
PASSWORD = "correct horse battery staple"
PERSON = 7_420_000_001


class Relay:
    def __init__(self, tmp_path: Path) -> None:
        self.web_port, self.tg_port = free_port(), free_port()
        self.tag = secrets.token_hex(4)
        self.telegram = SimulatedTelegram(self.tg_port)
        self.host = f"127.0.0.1:{self.web_port}"
        self.api = httpx.Client(base_url=f"http://{self.host}", timeout=10)
        env = service_env(
            tmp_path / "data",
            backends=True,
            QUEUE_NAME=f"tgrelay-apprise-{self.tag}",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.telegram.url,
            TELEGRAM_BOT_USERNAME=BOT,
            TELEGRAM_TIMEOUT_SECONDS="1",
        )
        self.processes = Processes(tmp_path, env)

    def start(self) -> None:
        run = self.processes
        run.start("telegram", "-m", "fakegram", "--port", str(self.tg_port), "--token", TOKEN, "--bot-username", BOT)
        run.run("manage.py", "migrate", "--noinput")
        run.start(
            "web", "-m", "gunicorn", "config.wsgi", "--bind", self.host,
            "--workers", "1", "--threads", "4", "--no-control-socket",
        )  # fmt: skip
        run.start("bot", "manage.py", "runbot")
        run.start("worker", "manage.py", "run_huey")
        wait_until(lambda: run.alive("telegram") and self.telegram.up(), what="the simulated Telegram")
        # Past any update id an earlier run left to a bot sharing the database.
        first_update = {"update_id": 10**12 + secrets.randbelow(10**15)}
        self.telegram.http.post("/_control/updates", json=first_update).raise_for_status()
        wait_until(lambda: run.alive("web") and answers(self.api, "/"), what="the web server")

    def integration(self, auth: dict[str, str], kind: str) -> str:
        made = self.api.post("/api/v1/integrations/", json={"kind": kind, "name": f"apprise {kind}"}, headers=auth)
        assert made.status_code == 201, made.text
        return made.json()["secret"]

    def relayed(self, header: str, count: int) -> list[dict]:
        """The first `count` messages the relay sent to the person's chat (the bot's own replies left out)."""

        def enough() -> list[dict] | None:
            sent = [record for record in self.telegram.sent(PERSON) if record.get("text", "").startswith(header)]
            return sent if len(sent) >= count else None

        return wait_until(enough, what=f"{count} message(s) relayed")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    relay = Relay(tmp_path)
    try:
        relay.start()
        yield relay
    except BaseException:
        for name in ("web", "worker", "bot", "telegram"):
            print(f"--- {name} ---\n{relay.processes.logs(name)}")
        raise
    finally:
        relay.processes.stop_all()


def notify(url: str, *, body: str, title: str, markdown: bool) -> None:
    """One notification through Apprise, which must report success."""
    sender = apprise.Apprise()
    assert sender.add(url), f"Apprise did not take {url}"
    body_format = apprise.NotifyFormat.MARKDOWN if markdown else apprise.NotifyFormat.TEXT
    assert sender.notify(body=body, title=title, body_format=body_format), f"Apprise failed to send to {url}"


def bold(record: dict) -> list[str]:
    """The text of each bold entity of the message, found by Telegram's UTF-16 offsets."""
    units = record["text"].encode("utf-16-le")
    return [
        units[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])].decode("utf-16-le")
        for entity in record.get("entities", [])
        if entity["type"] == "bold"
    ]


def test_apprise_delivers_through_ntfy_gotify_and_the_generic_hook(relay: Relay) -> None:
    name, username = f"Apprise {relay.tag}", f"apprise-{relay.tag}"
    header = HEADER.format(name=name)
    body = {"username": username, "password": PASSWORD, "name": name}
    assert relay.api.post("/api/v1/auth/register/", json=body).status_code == 201
    token = relay.api.post("/api/v1/auth/token/", json=body).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    code = relay.api.post("/api/v1/telegram/link/", headers=auth).json()["code"]
    relay.telegram.say(PERSON, f"/start {code}")
    wait_until(lambda: relay.api.get("/api/v1/telegram/link/", headers=auth).json().get("chat"), what="the link")
    ntfy_secret, gotify_secret = relay.integration(auth, "ntfy"), relay.integration(auth, "gotify")
    hook_secret = relay.integration(auth, "webhook")
    host = relay.host

    sends = [
        # (Apprise URL, title, markdown, silent, what goes before the title)
        (
            f"ntfy://{username}:{PASSWORD.replace(' ', '%20')}@{host}/me?format=markdown",
            "ntfy, password",
            True,
            False,
            "",
        ),
        (f"ntfy://{token}@{host}/me?auth=token&format=markdown&priority=low", "ntfy, API token", True, True, ""),
        (f"ntfy://{host}/me?token={ntfy_secret}&tags=warning", "ntfy, integration", False, False, "⚠️ "),
        (f"gotify://{host}/{gotify_secret}?format=markdown&priority=low", "Gotify", True, True, ""),
        (f"json://{host}/hooks/{hook_secret}", "json", False, False, ""),
        (f"form://{host}/hooks/{hook_secret}", "form", False, False, ""),
    ]
    for url, title, markdown, _, _ in sends:
        notify(url, body=f"Sent by **{title}**" if markdown else f"Sent by {title}", title=title, markdown=markdown)

    records = relay.relayed(header, len(sends))
    # Each arrives once, in the order sent: one chat takes them one after another.
    assert len(records) == len(sends)
    for record, (_, title, markdown, silent, before) in zip(records, sends, strict=True):
        assert record["text"] == f"{header}{before}{title}\nSent by {title}", record
        # The title in bold, and the markdown's bold as formatting, never as stars.
        assert bold(record) == ([title, title] if markdown else [title]), record
        assert record.get("disable_notification", False) is silent, record
