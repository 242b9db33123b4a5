from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from conftest import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PROTECTED_URL = "/api/v1/telegram/link/"


def log_in(username="alice", password=PASSWORD):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_log_in_returns_a_token_that_works_as_bearer(alice):
    response = log_in()

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": alice.pk, "username": "alice", "name": "Alice"}
    assert body["expiry"] is None
    assert PASSWORD not in response.content.decode()
    assert alice.password not in response.content.decode()
    assert bearer(body["token"]).get(PROTECTED_URL).status_code == 200


def test_log_in_ignores_the_case_of_the_username(alice):
    assert log_in(username="ALICE").status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong horse battery"), ("nobody", PASSWORD), ("alice", PASSWORD.upper())],
)
def test_wrong_credentials_get_401_and_no_token(alice, username, password):
    response = log_in(username=username, password=password)

    assert response.status_code == 401
    assert "token" not in response.json()
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("stale", ["Bearer revoked-token-value", "Basic bm9ib2R5Om5vdGhpbmc="])
def test_log_in_works_despite_stale_credentials_in_the_header(alice, stale):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=stale)

    response = client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert bearer(response.json()["token"]).get(PROTECTED_URL).status_code == 200


def test_inactive_account_cannot_log_in(alice):
    alice.is_active = False
    alice.save()

    assert log_in().status_code == 401


@pytest.mark.parametrize("missing", ["username", "password"])
def test_log_in_names_a_missing_field(alice, missing):
    fields = {"username": "alice", "password": PASSWORD}
    del fields[missing]

    response = APIClient().post(TOKEN_URL, fields, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [missing]


def test_bad_bearer_tokens_are_refused(alice):
    token = log_in().json()["token"]

    assert bearer(token[:-1] + ("A" if token[-1] != "A" else "B")).get(PROTECTED_URL).status_code == 401
    assert bearer("not-a-token").get(PROTECTED_URL).status_code == 401
    assert APIClient().get(PROTECTED_URL).status_code == 401


def test_a_user_can_hold_several_tokens_at_once(alice):
    first = log_in().json()["token"]
    second = log_in().json()["token"]

    assert first != second
    assert AuthToken.objects.filter(user=alice).count() == 2
    assert bearer(first).get(PROTECTED_URL).status_code == 200
    assert bearer(second).get(PROTECTED_URL).status_code == 200


def test_tokens_are_stored_hashed(alice):
    token = log_in().json()["token"]

    table = AuthToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        rows = cursor.fetchall()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0])
    assert token not in stored
    # Nor is enough of it kept to use: the stored prefix alone is no token.
    assert bearer(AuthToken.objects.get().token_key).get(PROTECTED_URL).status_code == 401


def test_log_out_revokes_only_the_token_it_carries(alice):
    kept = log_in().json()["token"]
    revoked = log_in().json()["token"]

    response = bearer(revoked).delete(TOKEN_URL)

    assert response.status_code == 204
    assert bearer(revoked).get(PROTECTED_URL).status_code == 401
    assert bearer(revoked).delete(TOKEN_URL).status_code == 401
    assert bearer(kept).get(PROTECTED_URL).status_code == 200
    assert AuthToken.objects.filter(user=alice).count() == 1


def test_log_out_does_not_touch_another_users_tokens(alice, bob):
    alice_token = log_in("alice").json()["token"]
    bob_token = log_in("bob").json()["token"]

    assert bearer(alice_token).delete(TOKEN_URL).status_code == 204

    assert bearer(bob_token).get(PROTECTED_URL).status_code == 200


def test_log_out_needs_authentication():
    assert APIClient().delete(TOKEN_URL).status_code == 401


def test_log_out_with_basic_auth_has_no_token_to_revoke(alice):
    token = log_in().json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("alice"))

    response = client.delete(TOKEN_URL)

    assert response.status_code == 400
    assert "detail" in response.json()
    assert bearer(token).get(PROTECTED_URL).status_code == 200


def test_a_token_header_that_is_not_utf8_gets_401_not_500(alice):
    response = bearer("\xff\xfe-not-utf8").get(PROTECTED_URL)

    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_revoked_token_stops_working_on_the_next_request(alice):
    token = log_in().json()["token"]
    assert bearer(token).get(PROTECTED_URL).status_code == 200

    AuthToken.objects.filter(user=alice).delete()

    assert bearer(token).get(PROTECTED_URL).status_code == 401


def test_a_deactivated_account_loses_its_tokens_at_once(alice):
    token = log_in().json()["token"]
    alice.is_active = False
    alice.save()

    assert bearer(token).get(PROTECTED_URL).status_code == 401


def test_with_a_token_lifetime_an_expired_token_is_refused_and_deleted(alice, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(days=1)}
    token = log_in().json()["token"]
    assert log_in().json()["expiry"] is not None
    assert bearer(token).get(PROTECTED_URL).status_code == 200

    AuthToken.objects.filter(user=alice).update(expiry=timezone.now() - timedelta(seconds=1))

    assert bearer(token).get(PROTECTED_URL).status_code == 401
    assert not AuthToken.objects.filter(user=alice).exists()
