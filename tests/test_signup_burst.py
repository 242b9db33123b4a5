"""Sign-up as a denial of service: sign-ups are limited per address, and password hashing per machine.

Each sign-up takes a slot in its address's count before its password is
hashed. Every password hash (sign-up, login, Basic, cabinet, admin) takes one
of PASSWORD_HASHING_SLOTS slots on the machine (accounts/hashers.py); with
none free the request is answered 503 with Retry-After at once and counts
nothing. The last test fires 60 concurrent sign-ups from 60 addresses at the
real gunicorn workers with the production PBKDF2 hasher, and meanwhile asks
/healthz and posts messages with a Bearer token: those keep being answered
(their latency is printed for docs/benchmarks.md, not asserted).
"""

import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from rest_framework.test import APIClient

from accounts.hashers import BoundedHasherMixin, hashing_slot
from accounts.models import User
from conftest import PASSWORD, basic_auth
from tests.processes import ROOT, Processes, answers, free_port, service_env, wait_until


class BoundedMD5PasswordHasher(BoundedHasherMixin, MD5PasswordHasher):
    """The test suite's fast hasher, bounded as production's PBKDF2 is."""


def sign_up(way: str, username: str, address: str = "192.0.2.10"):
    body = {"username": username, "password": PASSWORD, "password_repeat": PASSWORD, "name": username}
    if way == "api":
        return APIClient(REMOTE_ADDR=address).post("/api/v1/auth/register/", body, format="json")
    if way == "users-signup":
        return APIClient(REMOTE_ADDR=address).post("/users/signup", body, format="json")
    # Followed to the page it ends on, except "cabinet-once": the first answer.
    return Client(REMOTE_ADDR=address).post("/cabinet/signup/", body, follow=way == "cabinet")


def made(username: str) -> bool:
    return User.objects.filter(username=username).exists()


# -- sign-ups per address ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("way", ["api", "users-signup", "cabinet"])
def test_sign_ups_are_limited_per_client_address(settings, way):
    settings.SIGNUPS_PER_ADDRESS = 2
    sign_up(way, "first")
    # A sign-up that makes no account (the name is taken) counts nothing.
    sign_up(way, "first")
    sign_up(way, "second")
    refused = sign_up(way, "third")

    assert (made("first"), made("second"), made("third")) == (True, True, False)
    if way == "cabinet":
        assert "Too many accounts were made from this address" in refused.content.decode()
    else:
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) > 0
    # Another address signs up as ever.
    sign_up(way, "elsewhere", address="198.51.100.3")
    assert made("elsewhere")


# -- the machine's hashing slots ------------------------------------------------------------------


@pytest.fixture
def bounded(settings, tmp_path) -> None:
    settings.PASSWORD_HASHERS = ["tests.test_signup_burst.BoundedMD5PasswordHasher"]
    # The slots' lock files live in DATA_DIR: this test's own.
    settings.DATA_DIR = tmp_path
    settings.PASSWORD_HASHING_SLOTS = 1


@contextmanager
def every_slot_taken() -> Iterator[None]:
    """Another thread (as another request would) holds the one slot until the block ends."""
    taken, done = threading.Event(), threading.Event()

    def hold():
        with hashing_slot():
            taken.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        done.set()
        holder.join()


@pytest.mark.django_db
def test_with_every_hashing_slot_taken_each_way_in_answers_503_at_once_and_counts_nothing(bounded, settings):
    settings.SIGNUPS_PER_ADDRESS = 1
    User.objects.create_user(username="alice", password=PASSWORD, name="Alice")
    wrong = {"username": "alice", "password": "wrong horse battery"}
    with every_slot_taken():
        busy = [
            sign_up("api", "bob"),
            sign_up("users-signup", "bob"),
            *[APIClient().post("/api/v1/auth/token/", wrong, format="json") for _ in range(3)],
            APIClient().post("/users/login", wrong, format="json"),
            APIClient().get("/api/v1/messages/", HTTP_AUTHORIZATION=basic_auth("alice", "wrong")),
        ]
        pages = [
            sign_up("cabinet-once", "bob"),
            *[Client().post("/cabinet/login/", wrong) for _ in range(3)],
        ]

    assert [response.status_code for response in busy] == [503] * 7
    assert {response["Retry-After"] for response in busy} == {"1"}
    assert "try again" in busy[0].json()["detail"]
    assert [response.status_code for response in pages] == [503] * 4
    assert "busy" in pages[0].content.decode()
    assert not made("bob")
    # Nothing counted: the one sign-up this address may make, and alice's password, still go through.
    assert sign_up("api", "bob").status_code == 201
    assert (
        APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json").status_code
        == 200
    )


@pytest.mark.django_db
def test_a_free_slot_is_taken_and_given_back(bounded):
    for number in range(3):
        assert sign_up("api", f"user{number}", address=f"198.51.100.{number}").status_code == 201
    response = APIClient().post("/api/v1/auth/token/", {"username": "user0", "password": PASSWORD}, format="json")
    assert response.status_code == 200


# -- 60 concurrent sign-ups against the real web server ------------------------------------------------

SETUP = """
import os
from accounts.services import issue_token, register_user
from relaybot.services import TelegramUser, link_private_chat
user = register_user(username=os.environ["SETUP_USERNAME"], password=os.environ["SETUP_PASSWORD"], name="Alice")
link_private_chat(user=user, who=TelegramUser(chat_id=int(os.environ["SETUP_CHAT_ID"]), first_name="Alice"))
_, token = issue_token(user=user)
open(os.environ["SETUP_TOKEN_FILE"], "w").write(token)
"""


def linked_account(processes: Processes, tmp_path: Path, username: str, chat_id: int) -> str:
    """An account with a linked chat, made in the service's own database; returns an API token for it."""
    token_file = tmp_path / f"{username}.token"
    env = {
        **processes.env,
        "SETUP_USERNAME": username,
        "SETUP_PASSWORD": PASSWORD,
        "SETUP_CHAT_ID": str(chat_id),
        "SETUP_TOKEN_FILE": str(token_file),
    }
    subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env, check=True)
    return token_file.read_text()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(name: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{name}: none"
    milliseconds = [value * 1000 for value in seconds]
    return (
        f"{name}: n={len(milliseconds)} p50={statistics.median(milliseconds):.0f} ms "
        f"p99={percentile(milliseconds, 0.99):.0f} ms max={max(milliseconds):.0f} ms"
    )


class Probe:
    """Asks one thing over and over in a thread, recording each answer's status and time."""

    def __init__(self, send) -> None:
        self.send = send
        self.answers: list[tuple[int, float]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            status = self.send().status_code
            self.answers.append((status, time.perf_counter() - started))
            time.sleep(0.01)

    def __enter__(self) -> "Probe":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join()

    def statuses(self) -> Counter:
        return Counter(status for status, _ in self.answers)

    def seconds(self) -> list[float]:
        return [seconds for _, seconds in self.answers]


def test_sixty_concurrent_sign_ups_leave_the_service_answering(tmp_path: Path):
    from config.run import web_command

    port = free_port()
    env = service_env(
        tmp_path / "data",
        backends=True,
        TELEGRAM_BOT_TOKEN="123456:burst-test-token",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        TELEGRAM_BOT_USERNAME="tgrelay_burst_bot",
        MESSAGES_PER_MINUTE="100000",
        # The default on two cores, set so the test means the same on any machine.
        PASSWORD_HASHING_SLOTS="1",
    )
    processes = Processes(tmp_path, env)
    processes.run("manage.py", "migrate", "--noinput")
    tag = os.urandom(4).hex()
    token = linked_account(processes, tmp_path, f"burst-{tag}", chat_id=8_000_000_000 + int(tag, 16))
    # The production command: gunicorn, 2 x cores - 1 sync workers.
    processes.start("web", *web_command(sys.executable, "127.0.0.1", str(port), env)[1:])
    url = f"http://127.0.0.1:{port}"
    health = httpx.Client(base_url=url, timeout=30)
    poster = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})
    # Sixty addresses, so the per-address limit does not apply: the hashing bound must hold on its own.
    base = f"127.{int(tag[:2], 16) % 200 + 20}.{int(tag[2:4], 16)}"
    try:
        wait_until(lambda: processes.alive("web") and answers(health, "/healthz"), what="the web server")

        # Made beforehand (each builds a TLS context, costly), so that making them does not slow the probes.
        clients = [
            httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=f"{base}.{n + 1}"), timeout=60)
            for n in range(60)
        ]
        ready = threading.Barrier(60)

        def sign_up_from(number: int) -> tuple[int, str, float]:
            body = {"username": f"burst-{tag}-{number}", "password": PASSWORD, "name": "Burst"}
            ready.wait()
            started = time.perf_counter()
            response = clients[number].post("/api/v1/auth/register/", json=body)
            return response.status_code, response.headers.get("Retry-After", ""), time.perf_counter() - started

        def post_message():
            return poster.post("/api/v1/messages/", json={"text": "still here"})

        # Every worker's first requests load what the rest reuse (URLs, connections, the password lists).
        for number in range(12):
            health.get("/healthz")
            post_message()
            poster.post("/api/v1/auth/register/", json={"username": f"warm-{tag}-{number}", "password": "1"})
        with Probe(lambda: health.get("/healthz")) as idle_health, Probe(post_message) as idle_posts:
            time.sleep(2)
        with Probe(lambda: health.get("/healthz")) as burst_health, Probe(post_message) as burst_posts:
            time.sleep(0.2)
            burst_started = time.perf_counter()
            with ThreadPoolExecutor(60) as pool:
                signups = list(pool.map(sign_up_from, range(60)))
            burst_seconds = time.perf_counter() - burst_started
            time.sleep(0.5)
        for client in clients:
            client.close()
    finally:
        health.close()
        poster.close()
        processes.stop_all()
        print("--- web ---\n" + processes.logs("web")[-2000:])

    outcomes = Counter(status for status, _, _ in signups)
    refused = [seconds for status, _, seconds in signups if status != 201]
    print(
        f"\nsign-ups: {dict(outcomes)} in {burst_seconds:.2f} s; refused in {summary('', refused)[2:]}\n"
        f"idle  {summary('/healthz', idle_health.seconds())}; {summary('POST', idle_posts.seconds())}\n"
        f"burst {summary('/healthz', burst_health.seconds())}; {summary('POST', burst_posts.seconds())}"
    )
    assert set(burst_health.statuses()) == {200}
    assert set(burst_posts.statuses()) == {202}
    assert set(outcomes) <= {201, 429, 503}
    assert outcomes[201] >= 1
    # Beyond the bound, refused at once (not queued) and told when to come back.
    assert outcomes[503] >= 1
    assert all(retry == "1" for status, retry, _ in signups if status == 503)
