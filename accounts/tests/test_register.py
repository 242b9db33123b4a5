import pytest
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/register/"
GOOD = {"username": "carol", "password": "plum orchard 47", "password_repeat": "plum orchard 47", "name": "Carol C."}


def register(**fields):
    return APIClient().post(URL, fields, format="json")


def test_register_creates_the_account_and_answers_without_the_password():
    response = register(**GOOD)

    assert response.status_code == 201
    user = User.objects.get(username="carol")
    assert response.json() == {"id": user.pk, "username": "carol", "name": "Carol C."}
    assert "plum orchard 47" not in response.content.decode()
    assert user.password not in response.content.decode()
    assert user.check_password("plum orchard 47")


def test_password_repeat_may_be_left_out():
    fields = {key: value for key, value in GOOD.items() if key != "password_repeat"}

    assert register(**fields).status_code == 201


def test_password_repeat_must_match():
    response = register(**{**GOOD, "password_repeat": "plum orchard 48"})

    assert response.status_code == 400
    assert "password_repeat" in response.json()
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("k7#pQ", id="too short"),
        pytest.param("password123", id="too common"),
        pytest.param("8302948571", id="all digits"),
        pytest.param("carol_24", id="like the username"),
    ],
)
def test_django_password_validators_apply(password):
    response = register(**{**GOOD, "password": password, "password_repeat": password})

    assert response.status_code == 400
    assert list(response.json()) == ["password"]
    assert response.json()["password"]
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.parametrize("taken", ["carol", "Carol", "CAROL"])
def test_username_is_unique_whatever_its_case(taken):
    assert register(**{**GOOD, "username": taken}).status_code == 201

    response = register(**{**GOOD, "username": "cArOl"})

    assert response.status_code == 400
    assert "username" in response.json()
    assert User.objects.filter(username__iexact="carol").count() == 1


def test_capitalised_username_after_lowercase_one_is_refused(alice):
    response = register(**{**GOOD, "username": "Alice"})

    assert response.status_code == 400
    assert "username" in response.json()


def test_username_with_forbidden_characters_is_refused():
    response = register(**{**GOOD, "username": "carol smith!"})

    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.parametrize("username", ["ölaf", "алиса", "名前"])
def test_username_is_ascii_so_its_case_can_be_compared(username):
    response = register(**{**GOOD, "username": username})

    assert response.status_code == 400
    assert "username" in response.json()


def test_name_may_be_any_text():
    response = register(**{**GOOD, "name": "Алиса Ёлкина 🌲"})

    assert response.status_code == 201
    assert response.json()["name"] == "Алиса Ёлкина 🌲"


@pytest.mark.parametrize("missing", ["username", "password", "name"])
def test_each_missing_field_is_named(missing):
    fields = {key: value for key, value in GOOD.items() if key != missing}

    response = register(**fields)

    assert response.status_code == 400
    assert list(response.json()) == [missing]
    assert not User.objects.exists()


def test_empty_body_names_every_required_field():
    response = APIClient().post(URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password", "name"}


def test_registered_user_can_log_in():
    register(**GOOD)

    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "carol", "password": "plum orchard 47"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["name"] == "Carol C."
