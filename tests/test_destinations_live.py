"""Destinations with the real processes: a private chat, a group, a forum topic and a channel.

The simulated Telegram, the web server (gunicorn), the bot poller and the
delivery worker run as separate processes, as in tests/test_crash.py, on a
fresh SQLite database or on the PostgreSQL and Redis given in DATABASE_URL
and REDIS_URL. The test is only a client: it registers an account, links
four chats the ways a person does (the deep link, the startgroup flow,
/start@bot in a topic, a code posted in a channel), sends to each by label,
and scripts Telegram through the simulator's control API: the bot is kicked
from the group, and another group is upgraded to a supergroup while
messages to it are under way and the bot poller is down, so the relay
learns of the upgrade from Telegram's answer to a send.

Groups are paced at 0.2 s a message rather than Telegram's 3 s, so the test
takes seconds; pacing has tests of its own.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.processes import HEADER, Processes, SimulatedTelegram, answers, free_port, service_env, wait_until

TOKEN = "100004:token-of-the-destinations-tests"
BOT = "tgrelay_demo_bot"
PASSWORD = "correct horse battery staple"

# (thread_id, text without the header) of one message the relay sent.
Relayed = tuple[int | None, str]


class Relay:
    """tg-relay's processes against the simulated Telegram, and a client of both."""

    def __init__(self, tmp_path: Path) -> None:
        self.web_port, self.tg_port = free_port(), free_port()
        # With DATABASE_URL and REDIS_URL set, every test of the run shares one database and one Redis.
        self.tag = secrets.token_hex(4)
        self.telegram = SimulatedTelegram(self.tg_port)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.web_port}", timeout=10)
        env = service_env(
            tmp_path / "data",
            backends=True,
            QUEUE_NAME=f"tgrelay-destinations-{self.tag}",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.telegram.url,
            TELEGRAM_BOT_USERNAME=BOT,
            TELEGRAM_TIMEOUT_SECONDS="1",
            DELIVERY_BACKOFF_BASE_SECONDS="0.5",
            DELIVERY_BACKOFF_MAX_SECONDS="2",
            DELIVERY_GROUP_INTERVAL_SECONDS="0.2",
            # Threads (gunicorn.conf.py) for requests that wait for an answer, besides the one that runs.
            WAIT_SLOTS="3",
        )
        self.processes = Processes(tmp_path, env)

    def start(self) -> None:
        run = self.processes
        run.start("telegram", "-m", "fakegram", "--port", str(self.tg_port), "--token", TOKEN, "--bot-username", BOT)
        run.run("manage.py", "migrate", "--noinput")
        run.start(
            "web", "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
            "--workers", "1", "--no-control-socket",
        )  # fmt: skip
        run.start("bot", "manage.py", "runbot")
        run.start("worker", "manage.py", "run_huey")
        wait_until(lambda: run.alive("telegram") and self.telegram.up(), what="the simulated Telegram")
        # Telegram never reuses an update id, and the bot skips ids it has handled; a fresh
        # simulator counts from 1, so this one starts past any id an earlier test left behind.
        first_update = {"update_id": 10**12 + secrets.randbelow(10**15)}
        self.telegram.http.post("/_control/updates", json=first_update).raise_for_status()
        wait_until(lambda: run.alive("web") and answers(self.api, "/"), what="the web server")

    # -- Telegram, scripted -----------------------------------------------------

    def control(self, path: str, **body) -> dict:
        answer = self.telegram.http.post(f"/_control/{path}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def relayed(self, chat_id: int, header: str) -> list[Relayed]:
        """What the relay sent to a chat, in the order Telegram took it; the bot's own replies left out."""
        return [
            (message.get("message_thread_id"), message["text"].removeprefix(header))
            for message in self.telegram.sent(chat_id)
            if message["text"].startswith(header)
        ]

    def wait_relayed(self, chat_id: int, header: str, count: int) -> list[Relayed]:
        def enough() -> list[Relayed] | None:
            relayed = self.relayed(chat_id, header)
            return relayed if len(relayed) >= count else None

        return wait_until(enough, what=f"{count} message(s) relayed to chat {chat_id}")

    # -- the API ----------------------------------------------------------------

    def register(self, role: str, name: str) -> dict[str, str]:
        body = {"username": f"{role}-{self.tag}", "password": PASSWORD, "name": name}
        assert self.api.post("/api/v1/auth/register/", json=body).status_code == 201
        token = self.api.post("/api/v1/auth/token/", json=body).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    def new_destination(self, auth: dict[str, str], label: str) -> dict:
        answer = self.api.post("/api/v1/destinations/", json={"label": label}, headers=auth)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def destinations(self, auth: dict[str, str]) -> dict[str, dict]:
        """The account's destinations by label."""
        answer = self.api.get("/api/v1/destinations/", headers=auth)
        assert answer.status_code == 200, answer.text
        return {destination["label"]: destination for destination in answer.json()}

    def send(self, auth: dict[str, str], text: str, to: str | None = None) -> httpx.Response:
        body = {"text": text} if to is None else {"text": text, "to": to}
        return self.api.post("/api/v1/messages/", json=body, headers=auth)

    def history(self, auth: dict[str, str], destination: str) -> list[dict]:
        """A destination's messages, oldest first."""
        messages, url = [], f"/api/v1/messages/?destination={destination}"
        while url:
            page = self.api.get(url, headers=auth).json()
            messages.extend(page["results"])
            url = page["next"]
        return messages[::-1]


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


def test_a_chat_a_group_a_topic_and_a_channel_receive_by_label_and_a_group_is_followed_through_its_upgrade(
    relay: Relay,
) -> None:
    # A name of this run's own: the header then tells this run's messages from any
    # an earlier run left queued in a shared database for chat ids the simulator reuses.
    name = f"Dana {relay.tag}"
    header = HEADER.format(name=name)
    person = 7_200_000_000 + secrets.randbelow(10**6)  # the person's Telegram id, and their private chat's
    auth = relay.register("dana", name)

    # The private chat, through the deep link.
    code = relay.api.post("/api/v1/telegram/link/", headers=auth).json()["code"]
    relay.telegram.say(person, f"/start {code}")
    assert name in relay.telegram.bot_replies(person, 1)[-1]

    # A group, through t.me/<bot>?startgroup=<code>: Telegram adds the bot and sends /start@<bot> <code>.
    team = relay.new_destination(auth, "team")
    startgroup = parse_qs(urlsplit(team["group_link"]).query)["startgroup"]
    assert startgroup == [team["code"]]
    group_id = relay.control("groups", title="Team", members={str(person): "creator"})["chat_id"]
    relay.control(f"groups/{group_id}/add_bot", by=person, start=startgroup[0])
    assert "team" in relay.telegram.bot_replies(group_id, 1)[-1]

    # A forum topic: the bot is in the forum already, and the person sends the start command in the topic.
    deploys = relay.new_destination(auth, "deploys")
    assert deploys["start_command"] == f"/start@{BOT} {deploys['code']}"
    forum_id = relay.control("groups", title="Engineering", forum=True, members={str(person): "creator"})["chat_id"]
    relay.control(f"groups/{forum_id}/add_bot", by=person)
    thread_id = relay.control(f"groups/{forum_id}/topics", name="Deploys", by=person)["thread_id"]
    in_topic = {"from": person, "text": deploys["start_command"], "thread_id": thread_id}
    relay.control(f"groups/{forum_id}/messages", **in_topic)
    [reply] = relay.telegram.wait_sent(1, forum_id)
    assert reply["message_thread_id"] == thread_id
    assert "deploys" in reply["text"]

    # A channel: the bot is an administrator allowed to post, and the code is posted; the bot
    # deletes the post, as the code is a secret until used, and says nothing in the channel.
    status = relay.new_destination(auth, "status")
    channel_id = relay.control("channels", title="Status")["chat_id"]
    relay.control(f"channels/{channel_id}/bot_rights", status="administrator", can_post_messages=True)
    post = relay.control(f"channels/{channel_id}/posts", text=status["code"])
    code_post = {"chat_id": channel_id, "message_id": post["message_id"]}

    def deleted() -> list[dict]:
        return relay.telegram.http.get("/_control/deleted", params={"chat_id": channel_id}).json()["messages"]

    wait_until(lambda: deleted() == [code_post], what="the bot to delete the channel's code post")

    linked = {
        ("me", "private", person, None, True),
        ("team", "group", group_id, None, False),
        ("deploys", "topic", forum_id, thread_id, False),
        ("status", "channel", channel_id, None, False),
    }

    def listed() -> set[tuple]:
        return {
            (label, d["kind"], d["chat_id"], d["thread_id"], d["is_default"])
            for label, d in relay.destinations(auth).items()
        }

    wait_until(lambda: listed() == linked, what="the four destinations")
    ids = {label: destination["id"] for label, destination in relay.destinations(auth).items()}

    # One message to each by label, and one without `to`: the default, the private chat.
    for to in ("team", "deploys", "status", None):
        accepted = relay.send(auth, f"to {to or 'the default'}", to)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["destination"] == ids[to or "me"]
    assert relay.wait_relayed(person, header, 1) == [(None, "to the default")]
    assert relay.wait_relayed(group_id, header, 1) == [(None, "to team")]
    assert relay.wait_relayed(forum_id, header, 1) == [(thread_id, "to deploys")]
    assert relay.wait_relayed(channel_id, header, 1) == [(None, "to status")]

    # The bot is kicked from the group: the API soon refuses to send there; the others go on.
    relay.control(f"groups/{group_id}/remove_bot", by=person)
    wait_until(lambda: relay.destinations(auth)["team"]["unreachable_reason"], what="the group to be unreachable")
    refused = relay.send(auth, "after the kick", "team")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "chat_unreachable"
    assert "kicked" in refused.json()["detail"]
    for to in ("deploys", "status", None):
        assert relay.send(auth, f"again to {to or 'the default'}", to).status_code == 202
    assert relay.wait_relayed(person, header, 2)[1:] == [(None, "again to the default")]
    assert relay.wait_relayed(forum_id, header, 2)[1:] == [(thread_id, "again to deploys")]
    assert relay.wait_relayed(channel_id, header, 2)[1:] == [(None, "again to status")]

    # A basic group upgraded to a supergroup while messages to it are under way. The bot poller
    # is stopped over the upgrade, so the relay learns of it from Telegram's answer to a send
    # (400 with migrate_to_chat_id), as when the service message comes late.
    ops = relay.new_destination(auth, "ops")
    ops_id = relay.control("groups", title="Ops", members={str(person): "creator"})["chat_id"]
    relay.control(f"groups/{ops_id}/add_bot", by=person, start=ops["code"])
    wait_until(lambda: "ops" in relay.destinations(auth), what="the ops group to be linked")
    relay.processes.stop("bot")
    refused_before = relay.telegram.requests("sendMessage") - len(relay.telegram.sent())
    before = [f"ops {number}" for number in range(1, 5)]
    after = [f"ops {number}" for number in range(5, 9)]
    for text in before:
        assert relay.send(auth, text, "ops").status_code == 202
    supergroup_id = relay.control(f"groups/{ops_id}/upgrade", by=person)["chat_id"]
    for text in after:
        assert relay.send(auth, text, "ops").status_code == 202

    # Whatever left before the upgrade is in the old group, the rest in the supergroup: once each, in order.
    def all_sent() -> bool:
        return [m["status"] for m in relay.history(auth, "ops")] == ["sent"] * len(before + after)

    wait_until(all_sent, what="the ops messages to be sent")
    old, new = relay.relayed(ops_id, header), relay.relayed(supergroup_id, header)
    assert old + new == [(None, text) for text in before + after]
    assert len(new) >= len(after)
    # One send met the upgrade's refusal, and was sent again to the supergroup.
    assert relay.telegram.requests("sendMessage") - len(relay.telegram.sent()) == refused_before + 1
    moved = relay.destinations(auth)["ops"]
    assert (moved["kind"], moved["chat_id"]) == ("supergroup", supergroup_id)

    # The bot, back, reads the upgrade's service messages (updates are handled in order, so its
    # answer to /help comes after them) and finds the group moved already; it keeps receiving.
    relay.processes.start("bot", "manage.py", "runbot")
    relay.control(f"groups/{supergroup_id}/messages", **{"from": person, "text": "/help"})
    wait_until(
        lambda: len(relay.telegram.sent(supergroup_id)) > len(new), what="the bot to answer /help in the supergroup"
    )
    assert relay.send(auth, "ops 9", "ops").status_code == 202
    assert relay.wait_relayed(supergroup_id, header, len(new) + 1)[len(new) :] == [(None, "ops 9")]
    assert relay.relayed(ops_id, header) == old
    moved = relay.destinations(auth)["ops"]
    assert (moved["kind"], moved["chat_id"]) == ("supergroup", supergroup_id)

    # Nothing else went anywhere: in particular, nothing more to the group the bot was kicked from.
    assert relay.relayed(group_id, header) == [(None, "to team")]
    assert len(relay.relayed(person, header)) == 2
    assert len(relay.relayed(forum_id, header)) == 2
    assert len(relay.relayed(channel_id, header)) == 2
