"""Brute force: failed logins are limited per username from an address, per address, and per username, on every way in.

The token endpoint, the assignment's `/users/login` and HTTP Basic share the
counts (accounts/throttling.py). Past a limit they answer 429 with
Retry-After without running the password hasher. And a wrong password costs
the server what a right one does: the hasher runs exactly once for an
unknown username, a wrong password and a right one alike; a cached Basic
credential runs it not at all.
"""

from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from accounts import throttling
from conftest import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db

WRONG = "wrong horse battery"
WAYS = ["token", "users-login", "basic"]


def attempt(way: str, username: str, password: str, address: str = "192.0.2.10"):
    """One login by `way` from `address`; returns the response."""
    client = APIClient(REMOTE_ADDR=address)
    credentials = {"username": username, "password": password}
    if way == "token":
        return client.post("/api/v1/auth/token/", credentials, format="json")
    if way == "users-login":
        return client.post("/users/login", credentials, format="json")
    return client.get("/api/v1/messages/", HTTP_AUTHORIZATION=basic_auth(username, password))


def ok(response) -> bool:
    return response.status_code == 200


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The throttle's clock, set by the test: one value in a list, in the middle of a window."""
    now = [1_800_000_000.0 + 150]
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.mark.parametrize("way", WAYS)
def test_fifth_failure_for_a_username_closes_it_to_the_right_password_too(alice, clock, way):
    for _ in range(5):
        assert attempt(way, "alice", WRONG).status_code == 401

    refused = attempt(way, "alice", PASSWORD)

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many failed logins" in refused.json()["detail"]


@pytest.mark.parametrize("way", WAYS)
def test_username_count_is_shared_across_spellings_and_ways(alice, clock, way):
    spellings = ["alice", "ALICE", " Alice", "alice", "aLiCe"]
    ways = ["token", "users-login", "basic", "token", "basic"]
    for spelling, other_way in zip(spellings, ways, strict=True):
        assert attempt(other_way, spelling, WRONG).status_code == 401

    assert attempt(way, "alice", PASSWORD).status_code == 429


@pytest.mark.parametrize("way", WAYS)
def test_other_usernames_stay_open_until_the_address_limit(alice, bob, clock, way):
    for number in range(20):
        assert attempt(way, f"mallory{number}", WRONG).status_code == 401

    # The same address, now refused whatever it tries, right passwords included.
    assert attempt(way, "bob", PASSWORD).status_code == 429
    # Elsewhere bob logs in as ever.
    assert ok(attempt(way, "bob", PASSWORD, address="192.0.2.77"))


@pytest.mark.parametrize("way", WAYS)
def test_a_success_clears_the_username_but_not_the_address(alice, clock, way):
    for _ in range(4):
        assert attempt(way, "alice", WRONG).status_code == 401
    assert ok(attempt(way, "alice", PASSWORD))
    for _ in range(4):
        assert attempt(way, "alice", WRONG).status_code == 401
    assert ok(attempt(way, "alice", PASSWORD))

    # The address counted all eight failures: twelve more unknown names and it is closed.
    for number in range(12):
        assert attempt(way, f"mallory{number}", WRONG).status_code == 401
    assert attempt(way, "mallory-again", WRONG).status_code == 429


def test_the_limit_lifts_when_retry_after_says(alice, clock):
    for _ in range(5):
        attempt("token", "alice", WRONG)
    wait = int(attempt("token", "alice", PASSWORD)["Retry-After"])
    assert 300 <= wait <= 330  # the window, rounded up to its next tenth

    clock[0] += wait - 1
    assert attempt("token", "alice", PASSWORD).status_code == 429
    clock[0] += 1
    assert ok(attempt("token", "alice", PASSWORD))


def test_failures_spread_over_windows_still_count(alice, clock):
    # Three late in one window, two early in the next: five within five minutes.
    clock[0] += 140
    for _ in range(3):
        attempt("token", "alice", WRONG)
    clock[0] += 20
    for _ in range(2):
        attempt("token", "alice", WRONG)

    assert attempt("token", "alice", PASSWORD).status_code == 429


def test_limits_come_from_the_settings(alice, clock, settings):
    settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS = 2
    for _ in range(2):
        attempt("basic", "alice", WRONG)

    assert attempt("basic", "alice", PASSWORD).status_code == 429


@pytest.mark.parametrize("way", WAYS)
def test_refused_attempts_run_no_hash_and_count_nothing(alice, clock, hashes, way):
    for _ in range(5):
        attempt(way, "alice", WRONG)
    hashes.clear()

    for _ in range(10):
        assert attempt(way, "alice", WRONG).status_code == 429

    assert hashes == []
    clock[0] += 600
    assert ok(attempt(way, "alice", PASSWORD))


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    ("username", "password", "accepted"),
    [("mallory", PASSWORD, False), ("alice", WRONG, False), ("alice", PASSWORD, True)],
    ids=["unknown username", "wrong password", "right password"],
)
def test_the_hasher_runs_once_whatever_the_outcome(alice, clock, hashes, way, username, password, accepted):
    assert ok(attempt(way, username, password)) is accepted

    assert hashes == [password]


def test_a_cached_basic_credential_runs_no_hash(alice, clock, hashes):
    assert ok(attempt("basic", "alice", PASSWORD))
    hashes.clear()

    for _ in range(3):
        assert ok(attempt("basic", "alice", PASSWORD))

    assert hashes == []


def test_deactivated_account_costs_one_hash_and_counts_as_a_failure(alice, clock, hashes):
    alice.is_active = False
    alice.save()

    for way in ["token", "users-login", "basic", "token", "basic"]:
        assert attempt(way, "alice", PASSWORD).status_code == 401

    assert hashes == [PASSWORD] * 5
    assert attempt("token", "alice", PASSWORD).status_code == 429
