"""Signing up, logging in (throttled) and out."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD

SIGNUP = reverse("cabinet:signup")
LOGIN = reverse("cabinet:login")
LOGOUT = reverse("cabinet:logout")
DASHBOARD = reverse("cabinet:dashboard")


def signup_data(**overrides) -> dict:
    return {
        "username": "carol",
        "name": "Carol",
        "password": PASSWORD,
        "password_repeat": PASSWORD,
        **overrides,
    }


@pytest.mark.django_db
def test_signup_page_has_labelled_fields(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get(SIGNUP)
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("username", "name", "password", "password_repeat"):
        assert f'<label for="id_{field}"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.django_db
def test_login_page_has_labelled_fields(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get(LOGIN)
    html = response.content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert 'autocomplete="current-password"' in html


@pytest.mark.django_db
def test_signing_up_logs_in_and_lands_on_the_dashboard(client):
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 303
    assert response.url == DASHBOARD
    user = User.objects.get(username="carol")
    assert user.name == "Carol"
    assert user.check_password(PASSWORD)
    dashboard = client.get(DASHBOARD)
    assert dashboard.status_code == 200
    assert "Hello, Carol" in dashboard.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password_repeat": "something else entirely"}, "password_repeat", "The passwords do not match."),
        ({"password": "12345678", "password_repeat": "12345678"}, "password", "This password is too common."),
        ({"username": "not ascii ü"}, "username", "Enter a valid username."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_signup_shows_field_errors(client, overrides, field, message):
    response = client.post(SIGNUP, signup_data(**overrides))
    assert (response.status_code, response.url) == (303, SIGNUP)
    response = client.get(SIGNUP)
    assert message in response.context["form"].errors[field][0]
    assert message in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_signup_refuses_a_taken_username_in_any_case(client, alice):
    response = client.post(SIGNUP, signup_data(username="ALICE"), follow=True)
    assert response.context["form"].errors["username"] == ["A user with that username already exists."]


def test_logging_in_goes_to_next_or_the_dashboard(client, alice):
    response = client.post(LOGIN, {"username": "Alice", "password": PASSWORD, "next": "/cabinet/tokens/"})
    assert (response.status_code, response.url) == (303, "/cabinet/tokens/")
    client.logout()
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"})
    assert (response.status_code, response.url) == (303, DASHBOARD)


def test_pages_ask_to_log_in_first(client, db):
    for name in ("dashboard", "messages", "tokens", "profile"):
        response = client.get(reverse(f"cabinet:{name}"))
        assert response.status_code == 302
        assert response.url == f"{LOGIN}?next={reverse(f'cabinet:{name}')}"


def test_a_wrong_password_is_an_error_on_the_form(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "wrong"})
    assert (response.status_code, response.url) == (303, LOGIN)
    assert "_auth_user_id" not in client.session
    page = client.get(LOGIN).content.decode()
    assert "Wrong username or password." in page
    # Usernames are not case-sensitive, and the message does not say they may be.
    assert "case-sensitive" not in page


def test_failed_logins_are_throttled_per_username(client, alice, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS):
        assert client.post(LOGIN, {"username": "alice", "password": "wrong"}).url == LOGIN
    # Now even the right password is refused, without being checked.
    response = client.post(LOGIN, {"username": "ALICE", "password": PASSWORD}, follow=True)
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked out by alice's failures.
    User.objects.create_user(username="dave", password=PASSWORD, name="Dave")
    assert client.post(LOGIN, {"username": "dave", "password": PASSWORD}).url == DASHBOARD


def test_failed_logins_are_throttled_per_address(client, alice, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    for number in range(3):
        assert client.post(LOGIN, {"username": f"guess{number}", "password": "wrong"}).url == LOGIN
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD}, follow=True)
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # From another address alice gets in.
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post(LOGIN, {"username": "alice", "password": PASSWORD}).url == DASHBOARD


def test_a_successful_login_forgives_the_usernames_failures(client, alice, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS - 1):
        client.post(LOGIN, {"username": "alice", "password": "wrong"})
    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).url == DASHBOARD
    client.logout()
    for _ in range(settings.LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS - 1):
        assert client.post(LOGIN, {"username": "alice", "password": "wrong"}).url == LOGIN
    assert "Too many failed attempts" not in client.get(LOGIN).content.decode()


def test_logging_out_takes_a_post(alice_web):
    # Typed into the address bar it logs nobody out: it goes to a page with the button.
    assert alice_web.get(LOGOUT).url == DASHBOARD
    assert alice_web.get(DASHBOARD).status_code == 200
    response = alice_web.post(LOGOUT)
    assert (response.status_code, response.url) == (303, LOGIN)
    assert alice_web.get(DASHBOARD).status_code == 302


def test_logged_in_visitors_skip_the_forms(alice_web):
    assert alice_web.get(SIGNUP).url == DASHBOARD
    assert alice_web.get(LOGIN).url == DASHBOARD


def test_every_form_needs_the_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 403
    assert browser.post(SIGNUP, signup_data()).status_code == 403
    browser.force_login(alice)
    for name in ("logout", "telegram-connect", "telegram-disconnect", "message-send", "tokens", "password-change"):
        assert browser.post(reverse(f"cabinet:{name}")).status_code == 403, name


def test_the_session_cookie_is_http_only(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def test_a_browser_at_the_root_lands_in_the_cabinet(client, db):
    response = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert (response.status_code, response.url) == (302, DASHBOARD)
    assert client.get("/").json()["cabinet"] == "/cabinet/"
