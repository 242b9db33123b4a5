"""Edges of the login and sign-up limits that no test checked.

A username UTF-8 cannot encode, limits set to 0 or 1, a request without a
client address, a Retry-After under a second, the "known address" that
lasts KNOWN_ADDRESS_DAYS from the latest login, and a reservation given
back twice.
"""

from types import SimpleNamespace

import pytest
from django.http import HttpRequest
from django.test import Client

from accounts import throttling
from conftest import PASSWORD
from tests.test_security_brute_force import attempt, ok

pytestmark = pytest.mark.django_db

WRONG = "wrong horse battery"
DAY = 86400


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [1_800_000_000.0 + 150]
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/users/login"])
def test_a_username_with_a_lone_surrogate_is_refused_with_400_never_a_500(clock, path):
    # JSON may carry an unpaired surrogate, which UTF-8 cannot encode.
    body = '{"username": "al\\ud800ice", "password": "wrong horse battery"}'

    response = Client(REMOTE_ADDR="192.0.2.10").post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert "Surrogate" in response.json()["username"][0]


def test_the_limits_count_a_username_with_a_lone_surrogate_like_any_other(clock):
    # Every way in refuses such a name before counting; the counts take any string all the same.
    for _ in range(5):
        throttling.reserve_login("al\ud800ice", "192.0.2.10")

    with pytest.raises(throttling.LimitReached):
        throttling.reserve_login("al\ud800ice", "192.0.2.10")
    # Another name from that address is not held by it.
    throttling.reserve_login("al\ud801ice", "192.0.2.10")


@pytest.mark.parametrize(
    "limit", ["LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS", "LOGIN_FAILURES_PER_ADDRESS", "LOGIN_FAILURES_PER_USERNAME"]
)
@pytest.mark.parametrize("value", [0, 1])
def test_a_limit_of_0_or_1_lets_one_failure_be_checked(alice, clock, settings, limit, value):
    setattr(settings, limit, value)

    assert attempt("token", "alice", WRONG).status_code == 401
    assert attempt("token", "alice", PASSWORD).status_code == 429


@pytest.mark.parametrize("value", [0, 1])
def test_a_sign_up_limit_of_0_or_1_lets_one_sign_up_through(clock, settings, value):
    settings.SIGNUPS_PER_ADDRESS = value
    client = Client(REMOTE_ADDR="192.0.2.10")

    def sign_up(username: str) -> int:
        data = {"username": username, "password": PASSWORD, "name": username}
        return client.post("/api/v1/auth/register/", data, content_type="application/json").status_code

    assert sign_up("carol") == 201
    assert sign_up("dave") == 429


class NoAddressClient(Client):
    """A client whose requests carry no REMOTE_ADDR, as a WSGI server on a Unix socket may send them."""

    def _base_environ(self, **request):
        environ = super()._base_environ(**request)
        environ.pop("REMOTE_ADDR", None)
        return environ


def test_a_request_without_a_client_address_is_limited_like_any_other(alice, clock):
    client = NoAddressClient()
    credentials = {"username": "alice", "password": WRONG}

    statuses = [
        client.post("/api/v1/auth/token/", credentials, content_type="application/json").status_code for _ in range(5)
    ]
    credentials["password"] = PASSWORD
    refused = client.post("/api/v1/auth/token/", credentials, content_type="application/json")

    assert statuses == [401] * 5
    assert refused.status_code == 429
    # Alice at an address of her own is not held by it.
    assert ok(attempt("token", "alice", PASSWORD, address="192.0.2.10"))


def test_no_request_has_the_empty_address():
    assert throttling.client_address(None) == ""
    assert throttling.client_address(HttpRequest()) == ""


def test_retry_after_is_at_least_one_second(alice, clock):
    for _ in range(5):
        attempt("token", "alice", WRONG)
    wait = int(attempt("token", "alice", PASSWORD)["Retry-After"])

    # Less than a second of the window is left.
    clock[0] += wait - 1
    refused = attempt("token", "alice", PASSWORD)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"


# -- the addresses an account is known to log in from ----------------------------------


def fill_the_username_ceiling(settings, username: str = "alice") -> None:
    """Guesses from addresses alice never used, up to the per-username ceiling."""
    settings.LOGIN_FAILURES_PER_USERNAME = 2
    for number in range(2):
        assert attempt("token", username, WRONG, address=f"198.51.100.{number}").status_code == 401
    assert attempt("token", username, WRONG, address="198.51.100.9").status_code == 429


def test_another_accounts_login_does_not_make_the_address_known_for_alice(alice, bob, clock, settings):
    assert ok(attempt("token", "bob", PASSWORD, address="192.0.2.77"))

    fill_the_username_ceiling(settings)

    assert attempt("token", "alice", PASSWORD, address="192.0.2.77").status_code == 429


@pytest.mark.parametrize(("later", "let_in"), [(1, True), (30 * DAY - 1, True), (30 * DAY, False)])
def test_an_address_is_known_for_thirty_days_after_a_login(alice, clock, settings, later, let_in):
    assert ok(attempt("token", "alice", PASSWORD, address="192.0.2.10"))

    clock[0] += later
    fill_the_username_ceiling(settings)

    assert ok(attempt("token", "alice", PASSWORD, address="192.0.2.10")) is let_in


def test_each_login_keeps_the_address_known_thirty_days_more(alice, clock, settings):
    assert ok(attempt("token", "alice", PASSWORD, address="192.0.2.10"))
    clock[0] += 29 * DAY
    assert ok(attempt("token", "alice", PASSWORD, address="192.0.2.10"))

    clock[0] += 2 * DAY
    fill_the_username_ceiling(settings)

    assert ok(attempt("token", "alice", PASSWORD, address="192.0.2.10"))


# -- reservations --------------------------------------------------------------------


def test_a_reservation_given_back_twice_gives_back_once(clock, settings):
    settings.SIGNUPS_PER_ADDRESS = 2
    first = throttling.reserve_signup("192.0.2.10")
    throttling.reserve_signup("192.0.2.10")

    first.give_back()
    first.give_back()

    throttling.reserve_signup("192.0.2.10")
    with pytest.raises(throttling.LimitReached):
        throttling.reserve_signup("192.0.2.10")
