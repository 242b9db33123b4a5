"""The original assignment's routes, each with and without the trailing slash."""

from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from conftest import ALICE_CHAT, PASSWORD, basic_auth, link
from relay.tests.helpers import streamed_json

pytestmark = pytest.mark.django_db

SLASHES = pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
NEW = {"username": "dora", "password": "quiet lantern 93", "password_repeat": "quiet lantern 93"}


@SLASHES
def test_signup_without_name_uses_the_username(slash):
    response = APIClient().post(f"/users/signup{slash}", NEW, format="json")

    assert response.status_code == 201
    assert response.json() == {"id": User.objects.get().pk, "username": "dora", "name": "dora"}
    assert "quiet lantern 93" not in response.content.decode()


def test_signup_with_a_blank_name_uses_the_username():
    response = APIClient().post("/users/signup", {**NEW, "name": "  "}, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == "dora"


@SLASHES
def test_signup_keeps_a_given_name(slash):
    response = APIClient().post(f"/users/signup{slash}", {**NEW, "name": "Dora D."}, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == "Dora D."


def test_signup_accepts_a_form_body():
    response = APIClient().post("/users/signup", urlencode(NEW), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201


@SLASHES
def test_signup_checks_password_repeat(slash):
    response = APIClient().post(f"/users/signup{slash}", {**NEW, "password_repeat": "quiet lantern 94"}, format="json")

    assert response.status_code == 400
    assert "password_repeat" in response.json()
    assert not User.objects.exists()


def test_signup_applies_password_validators_and_unique_usernames(alice):
    weak = APIClient().post("/users/signup", {**NEW, "password": "1234", "password_repeat": "1234"}, format="json")
    taken = APIClient().post("/users/signup", {**NEW, "username": "ALICE"}, format="json")

    assert weak.status_code == 400
    assert "password" in weak.json()
    assert taken.status_code == 400
    assert "username" in taken.json()


@pytest.mark.parametrize("missing", ["username", "password"])
def test_signup_names_a_missing_field(missing):
    fields = {key: value for key, value in NEW.items() if key != missing}

    response = APIClient().post("/users/signup", fields, format="json")

    assert response.status_code == 400
    assert missing in response.json()


@SLASHES
def test_login_returns_a_bearer_token(alice, slash):
    response = APIClient().post(f"/users/login{slash}", {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    assert client.get("/message/sent").status_code == 200


@SLASHES
def test_login_refuses_a_wrong_password(alice, slash):
    response = APIClient().post(f"/users/login{slash}", {"username": "alice", "password": "nope"}, format="json")

    assert response.status_code == 401
    assert "token" not in response.json()


def test_signup_then_login_then_use_the_token():
    APIClient().post("/users/signup", NEW, format="json")

    token = (
        APIClient()
        .post("/users/login", {"username": "dora", "password": NEW["password"]}, format="json")
        .json()["token"]
    )

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/telegram/link/").json() == {"linked": False, "chat": None}


@SLASHES
@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_verify_route_answers_with_either_auth(alice, alice_api, slash, auth):
    client = alice_api if auth == "bearer" else APIClient()
    if auth == "basic":
        client.credentials(HTTP_AUTHORIZATION=basic_auth("alice"))

    response = client.patch(f"/bot/verify{slash}", {"verification_code": "ABCDEFGH"}, format="json")

    assert response.status_code == 400
    assert "verification_code" in response.json()
    assert APIClient().patch(f"/bot/verify{slash}", {"verification_code": "ABCDEFGH"}, format="json").status_code == 401


@SLASHES
@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_message_sent_route_answers_with_either_auth(tg, alice, alice_api, slash, auth):
    client = alice_api if auth == "bearer" else APIClient()
    if auth == "basic":
        client.credentials(HTTP_AUTHORIZATION=basic_auth("alice"))
    link(alice, ALICE_CHAT)

    posted = client.post(f"/message/sent{slash}", {"content": "hello"}, format="json")
    listed = client.get(f"/message/sent{slash}")

    assert posted.status_code == 202
    assert listed.status_code == 200
    assert [item["content"] for item in streamed_json(listed)] == ["hello"]
    assert APIClient().get(f"/message/sent{slash}").status_code == 401
