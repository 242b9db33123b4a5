"""Failed-login limits: nobody locks the owner out, the counts are exact under concurrency, the admin shares them.

- The lock counts failures per username *and* client address: five wrong
  guesses from one address close that username to that address only.
- A higher per-username ceiling across addresses stops guessing from many
  addresses, except from an address the account logged in from lately.
- A slot is taken atomically before the hasher runs: of 40 concurrent wrong
  passwords against real gunicorn workers exactly 5 are checked, on SQLite
  and on PostgreSQL + Redis; a window longer than five minutes holds.
- The admin's login is the cabinet's, so it checks no password of its own.
"""

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from django.test import Client

from accounts import throttling
from accounts.models import User
from conftest import PASSWORD
from tests.processes import Processes, answers, free_port, service_env, wait_until
from tests.test_security_brute_force import attempt, ok

WRONG = "wrong horse battery"
WAYS = ["token", "users-login", "basic", "cabinet"]
CABINET_LOGIN = "/cabinet/login/"


def log_in(way: str, username: str, password: str, address: str) -> bool | int:
    """One login by `way` from `address`: True if it let the user in, else the status (cabinet: 429 if refused)."""
    if way != "cabinet":
        response = attempt(way, username, password, address=address)
        return True if ok(response) else response.status_code
    browser = Client(REMOTE_ADDR=address)
    response = browser.post(CABINET_LOGIN, {"username": username, "password": password}, follow=True)
    if "_auth_user_id" in browser.session:
        return True
    return 429 if "Too many failed attempts" in response.content.decode() else 401


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [1_800_000_000.0 + 150]
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now[0]))
    return now


# -- item: an attacker cannot lock the owner out ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("way", WAYS)
def test_guesses_from_another_address_do_not_lock_the_owner_out(alice, clock, way):
    for _ in range(5):
        assert log_in(way, "alice", WRONG, "198.51.100.7") == 401
    assert log_in(way, "alice", PASSWORD, "198.51.100.7") == 429

    # Alice, at her own address, logs in as ever.
    assert log_in(way, "alice", PASSWORD, "192.0.2.10") is True


@pytest.mark.django_db
def test_guessing_from_many_addresses_meets_the_username_ceiling_except_where_the_owner_logs_in(alice, clock, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 12
    assert log_in("token", "alice", PASSWORD, "192.0.2.10") is True

    # Three guesses from each of four addresses: no address reaches its own lock.
    outcomes = [log_in("token", "alice", WRONG, f"198.51.100.{n % 4}") for n in range(12)]
    assert outcomes == [401] * 12

    # The username is closed to every address it never logged in from ...
    assert log_in("token", "alice", PASSWORD, "203.0.113.5") == 429
    assert log_in("token", "alice", WRONG, "203.0.113.6") == 429
    # ... but not where alice logs in.
    for way in WAYS:
        assert log_in(way, "alice", PASSWORD, "192.0.2.10") is True


# -- item: atomic counts, and windows of any length --------------------------------------------


@pytest.mark.django_db
def test_a_window_longer_than_five_minutes_holds(alice, clock, settings, monkeypatch):
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    # The database cache's own clocks (when it sets an expiry, when it reads one) move with the test's.
    monkeypatch.setattr("django.core.cache.backends.base.time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr("django.core.cache.backends.db.tz_now", lambda: datetime.fromtimestamp(clock[0], UTC))
    for _ in range(5):
        assert log_in("token", "alice", WRONG, "192.0.2.10") == 401

    clock[0] += 600
    assert log_in("token", "alice", PASSWORD, "192.0.2.10") == 429
    clock[0] += 299
    assert log_in("token", "alice", PASSWORD, "192.0.2.10") == 429
    clock[0] += 1
    assert log_in("token", "alice", PASSWORD, "192.0.2.10") is True


@pytest.fixture
def web(tmp_path: Path):
    """The real web server (gunicorn, three sync workers, the production hasher) on this run's backends."""
    port = free_port()
    env = service_env(
        tmp_path / "data",
        backends=True,
        TELEGRAM_BOT_TOKEN="123456:limits-test-token",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        TELEGRAM_BOT_USERNAME="tgrelay_limits_bot",
        # Every worker may hash at once: this test is about the failed-login count alone.
        PASSWORD_HASHING_SLOTS="3",
        LOGIN_RATE="1000/min",
    )
    processes = Processes(tmp_path, env)
    processes.run("manage.py", "migrate", "--noinput")
    processes.start(
        "web", "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3",
        "--no-control-socket",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as probe:
            wait_until(lambda: processes.alive("web") and answers(probe, "/healthz"), what="the web server")
        yield url
    finally:
        processes.stop_all()
        print("--- web ---\n" + processes.logs("web")[-3000:])


def client_at(url: str, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8 works on Linux), one per request."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, headers={"Connection": "close"}, timeout=60)


def test_of_forty_concurrent_wrong_passwords_exactly_five_are_checked(web: str):
    # This run's own username and addresses: with Redis the counts outlive the test.
    username = f"alice-{secrets.token_hex(4)}"
    attacker, owner = (f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}.{n}" for n in (7, 8))
    with client_at(web, owner) as alice:
        body = {"username": username, "password": PASSWORD, "name": "Alice"}
        assert alice.post("/api/v1/auth/register/", json=body).status_code == 201

    def guess(_) -> int:
        with client_at(web, attacker) as client:
            return client.post("/api/v1/auth/token/", json={"username": username, "password": WRONG}).status_code

    with ThreadPoolExecutor(40) as pool:
        answered = Counter(pool.map(guess, range(40)))

    print(f"40 concurrent wrong passwords: {dict(answered)}")
    assert answered == {401: 5, 429: 35}
    with client_at(web, attacker) as client:
        assert client.post("/api/v1/auth/token/", json={"username": username, "password": PASSWORD}).status_code == 429
    # The owner, elsewhere, is not locked out.
    with client_at(web, owner) as alice:
        assert alice.post("/api/v1/auth/token/", json={"username": username, "password": PASSWORD}).status_code == 200


# -- item: the admin's login shares the limits ----------------------------------------------


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser(username="root", password=PASSWORD, name="Root")


def test_the_admin_login_checks_no_password_and_sends_people_to_the_cabinets(root, hashes):
    browser = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(30):
        response = browser.post("/admin/login/?next=/admin/", {"username": "root", "password": WRONG})
        assert response.status_code == 302
        assert response.url == f"{CABINET_LOGIN}?next=%2Fadmin%2F"

    assert hashes == []
    assert "_auth_user_id" not in browser.session


def test_the_admin_signs_in_through_the_cabinet_under_its_limits(root):
    browser = Client(REMOTE_ADDR="198.51.100.9")
    login_page = browser.get("/admin/").url
    assert login_page.startswith("/admin/login/")
    cabinet_page = browser.get(login_page).url
    assert cabinet_page == f"{CABINET_LOGIN}?next=%2Fadmin%2F"

    for _ in range(5):
        browser.post(cabinet_page, {"username": "root", "password": WRONG, "next": "/admin/"})
    refused = browser.post(cabinet_page, {"username": "root", "password": PASSWORD, "next": "/admin/"}, follow=True)
    assert "Too many failed attempts" in refused.content.decode()
    assert "_auth_user_id" not in browser.session

    elsewhere = Client(REMOTE_ADDR="192.0.2.20")
    response = elsewhere.post(cabinet_page, {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert response.url == "/admin/"
    assert elsewhere.get("/admin/").status_code == 200
    # Signed in, the admin's login page sends the admin on.
    assert elsewhere.get("/admin/login/?next=/admin/").status_code == 302


def test_a_signed_in_person_who_is_not_staff_is_refused_the_admin(alice):
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/admin/login/?next=/admin/").status_code == 403
