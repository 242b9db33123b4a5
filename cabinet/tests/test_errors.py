"""Error pages: styled and translated for people, JSON for the API."""

import pytest
from django.http import HttpResponse, HttpResponseNotAllowed
from django.test import Client, RequestFactory
from django.urls import reverse

from cabinet.errors import ErrorPageMiddleware
from conftest import PASSWORD
from relay import selectors as relay_selectors
from relaybot import selectors as telegram_selectors


def is_page(response) -> bool:
    return response["Content-Type"].startswith("text/html") and "<!doctype html>" in response.content.decode()


def test_an_unknown_cabinet_address_is_a_page_in_the_readers_language(client, db):
    response = client.get("/cabinet/nope/")
    assert response.status_code == 404
    assert is_page(response)
    html = response.content.decode()
    assert "<title>Page not found · tg-relay</title>" in html
    assert 'href="/cabinet/"' in html
    russian = client.get("/cabinet/nope/", HTTP_ACCEPT_LANGUAGE="ru")
    assert "<title>Страница не найдена · tg-relay</title>" in russian.content.decode()
    assert '<html lang="ru">' in russian.content.decode()
    # The API keeps its JSON, even to a browser, and so does a client that asks for JSON anywhere.
    for path in ("/api/v1/nope/", "/users/nope", "/bot/nope", "/message/nope"):
        response = client.get(path, HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="ru")
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."}), path
    assert client.get("/nope", HTTP_ACCEPT="application/json").json() == {"detail": "Not found."}


def test_a_method_the_address_does_not_take_is_a_page(alice_web):
    response = alice_web.put(reverse("cabinet:token-revoke"))
    assert response.status_code == 405
    assert is_page(response)
    assert "This address does not open as a page" in response.content.decode()
    assert response["Allow"] == "GET, POST"


def test_a_failed_csrf_check_is_a_page_that_says_what_to_do(alice):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(reverse("cabinet:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert is_page(response)
    assert "This form has expired" in response.content.decode()
    # The API's own CSRF answer (session-authenticated DRF views) stays JSON.
    browser.force_login(alice)
    api = browser.post("/api/v1/messages/", {"text": "hi"})
    assert api.status_code == 403
    assert "detail" in api.json()


def test_a_server_error_is_a_page_without_the_database_and_json_in_the_api(alice_web, alice_api, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(telegram_selectors, "chat_for_user", boom)
    monkeypatch.setattr(relay_selectors, "messages_for_user", boom)
    alice_web.raise_request_exception = False
    response = alice_web.get(reverse("cabinet:dashboard"), HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 500
    assert is_page(response)
    assert "Что-то пошло не так" in response.content.decode()
    assert "the database went away" not in response.content.decode()
    alice_api.raise_request_exception = False
    response = alice_api.get("/api/v1/messages/")
    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error."})


@pytest.mark.parametrize("status", [400, 403, 429])
def test_a_bare_error_to_a_person_gets_its_page(rf: RequestFactory, status):
    middleware = ErrorPageMiddleware(lambda request: HttpResponse(status=status, headers={"Retry-After": "60"}))
    response = middleware(rf.get("/cabinet/somewhere/"))
    assert response.status_code == status
    assert is_page(response)
    assert response["Retry-After"] == "60"
    # A response with its own body, or one to the API, is left alone.
    api = ErrorPageMiddleware(lambda request: HttpResponseNotAllowed(["POST"]))(rf.get("/api/v1/messages/"))
    assert api.content == b""
    own = ErrorPageMiddleware(lambda request: HttpResponse("mine", status=status))(rf.get("/cabinet/"))
    assert own.content == b"mine"


def test_the_error_handlers_are_the_cabinets():
    from config import urls

    assert (urls.handler400, urls.handler403, urls.handler404, urls.handler500) == (
        "cabinet.errors.bad_request",
        "cabinet.errors.permission_denied",
        "cabinet.errors.not_found",
        "cabinet.errors.server_error",
    )
