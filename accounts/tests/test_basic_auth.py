"""HTTP Basic: accepted everywhere, and a verified credential is not re-hashed on every request."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from rest_framework.test import APIClient

from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, basic_auth, link

pytestmark = pytest.mark.django_db

URL = "/api/v1/telegram/link/"
NEW_PASSWORD = "another long passphrase"

ENDPOINTS = [
    ("get", "/api/v1/telegram/link/", None, 200),
    ("post", "/api/v1/telegram/link/", None, 201),
    ("delete", "/api/v1/telegram/link/", None, 404),
    ("post", "/api/v1/telegram/verify/", {"code": "ABCDEFGH"}, 400),
    ("get", "/api/v1/messages/", None, 200),
    ("post", "/api/v1/messages/", {"text": "hello"}, 409),
    ("get", "/api/v1/messages/999999/", None, 404),
    ("delete", "/api/v1/auth/token/", None, 400),
    ("patch", "/bot/verify", {"verification_code": "ABCDEFGH"}, 400),
    ("patch", "/bot/verify/", {"verification_code": "ABCDEFGH"}, 400),
    ("get", "/message/sent", None, 200),
    ("get", "/message/sent/", None, 200),
    ("post", "/message/sent", {"content": "hello"}, 409),
    ("post", "/message/sent/", {"content": "hello"}, 409),
]


def call(client: APIClient, method: str, path: str, data: dict | None):
    return getattr(client, method)(path, data, format="json")


def basic_client(username: str = "alice", password: str = PASSWORD) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(username, password))
    return client


@pytest.fixture
def hasher_checks(monkeypatch) -> list[str]:
    """Every password the configured hasher verifies, in order."""
    checked: list[str] = []
    verify = MD5PasswordHasher.verify

    def counting_verify(self, password, encoded):
        checked.append(password)
        return verify(self, password, encoded)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counting_verify)
    return checked


@pytest.mark.parametrize(("method", "path", "data", "expected"), ENDPOINTS)
def test_basic_auth_is_accepted_on_every_api_endpoint(tg, alice, method, path, data, expected):
    assert call(APIClient(), method, path, data).status_code == 401
    assert call(basic_client(password="wrong horse battery"), method, path, data).status_code == 401

    assert call(basic_client(), method, path, data).status_code == expected


def test_basic_auth_acts_as_the_right_user(alice, bob):
    response = basic_client("bob").get("/api/v1/messages/")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_basic_username_is_case_insensitive(alice):
    assert basic_client("ALICE").get(URL).status_code == 200


def test_unknown_user_is_refused(alice):
    assert basic_client("mallory").get(URL).status_code == 401


def test_password_is_hashed_once_for_repeated_requests(alice, hasher_checks):
    client = basic_client()

    for _ in range(5):
        assert client.get(URL).status_code == 200

    assert hasher_checks == [PASSWORD]


def test_wrong_password_is_checked_and_refused_every_time(alice, hasher_checks):
    client = basic_client(password="wrong horse battery")

    for _ in range(3):
        assert client.get(URL).status_code == 401

    assert hasher_checks == ["wrong horse battery"] * 3


def test_wrong_password_is_refused_after_a_right_one_was_cached(alice, hasher_checks):
    assert basic_client().get(URL).status_code == 200
    assert basic_client().get(URL).status_code == 200

    assert basic_client(password="wrong horse battery").get(URL).status_code == 401
    assert basic_client(password=PASSWORD + " ").get(URL).status_code == 401
    assert basic_client(password="").get(URL).status_code == 401

    assert hasher_checks == [PASSWORD, "wrong horse battery", PASSWORD + " ", ""]


def test_cached_credential_of_one_user_does_not_open_another(alice, bob):
    assert basic_client("alice").get(URL).status_code == 200
    bob.set_password("bobs own passphrase")
    bob.save()

    assert basic_client("bob", PASSWORD).get(URL).status_code == 401


def test_password_change_invalidates_the_cached_credential_at_once(alice, hasher_checks):
    assert basic_client().get(URL).status_code == 200

    alice.set_password(NEW_PASSWORD)
    alice.save()

    assert basic_client().get(URL).status_code == 401
    assert basic_client(password=NEW_PASSWORD).get(URL).status_code == 200
    assert basic_client(password=NEW_PASSWORD).get(URL).status_code == 200
    assert hasher_checks == [PASSWORD, PASSWORD, NEW_PASSWORD]


def test_deactivated_account_is_refused_despite_a_cached_credential(alice):
    assert basic_client().get(URL).status_code == 200

    alice.is_active = False
    alice.save()

    assert basic_client().get(URL).status_code == 401


def test_bearer_and_basic_work_side_by_side(alice, alice_api):
    assert alice_api.get(URL).status_code == 200
    assert basic_client().get(URL).status_code == 200


# Transactional: a message is handed to delivery when its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_a_name_in_another_case_sends_to_that_accounts_own_default(tg, alice, bob):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)

    for name, chat_id in (("ALICE", ALICE_CHAT), ("alice", ALICE_CHAT), ("Bob", BOB_CHAT)):
        response = basic_client(name).post("/api/v1/messages/", {"text": f"as {name}"}, format="json")
        assert response.status_code == 202
        assert tg.sent(chat_id=chat_id)[-1]["text"].endswith(f"as {name}")
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 2 and len(tg.sent(chat_id=BOB_CHAT)) == 1


def test_a_name_with_like_wildcards_finds_no_other_account(alice):
    # SQLite's LIKE would take `_` and `%` for any character and any run.
    for name in ("a_ice", "al%", "%", "_lice"):
        assert basic_client(name).get(URL).status_code == 401
