"""Russian and English: the browser's language, the switcher, and an API that keeps its language."""

from django.urls import reverse

DASHBOARD = reverse("cabinet:dashboard")
LOGIN = reverse("cabinet:login")


def test_pages_follow_the_browsers_language(client, db):
    russian = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.8")
    html = russian.content.decode()
    assert '<html lang="ru">' in html
    assert "<title>Войти · tg-relay</title>" in html
    assert russian["Content-Language"] == "ru"
    english = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert "<title>Log in · tg-relay</title>" in english.content.decode()
    # A language the cabinet does not speak falls back to English.
    assert '<html lang="en">' in client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="de").content.decode()


def test_the_switcher_overrides_the_browser(alice_web):
    response = alice_web.post(reverse("cabinet:set-language"), {"language": "ru", "next": DASHBOARD})
    assert (response.status_code, response.url) == (303, DASHBOARD)
    html = alice_web.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Здравствуйте, Alice" in html
    assert '<option value="ru" lang="ru" selected>Русский</option>' in html


def test_form_errors_are_translated(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="ru", follow=True)
    assert "Неверное имя пользователя или пароль." in response.content.decode()


def test_the_api_keeps_english_whatever_the_browser_says(client, db):
    response = client.get("/api/v1/messages/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code in (401, 403)
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert "Content-Language" not in response


def test_the_language_does_not_leak_from_a_cabinet_page_into_the_api(client, db):
    # Both run on this one thread: the API must not inherit the page's Russian.
    client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="ru")
    response = client.get("/api/v1/messages/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.json() == {"detail": "Authentication credentials were not provided."}
