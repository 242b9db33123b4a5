"""The cabinet in a real browser: Debian's Chromium, driven by Playwright, against the live test server in demo mode.

A person signs up, links Telegram through the simulated chat, sends a message
from the page and watches it turn "sent" and arrive in the chat, makes an API
token and uses it, and logs out; once in English and once in Russian. The
simulated Telegram pushes the bot's updates to the live server's webhook, so
the bot answers inside the server, as it would in production.

Skipped only where Chromium is missing outside CI; under CI a missing
Chromium fails (.ci/run installs it). DOCS_SCREENSHOTS=1 saves the dashboard
and the simulated chat to docs/img/ for the README.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import make_due, run_sweep
from telegram.client import get_bot

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "a long browser password"
WAIT_MS = 15_000

# What the person reads and clicks, in each language.
TEXTS = {
    "en": {
        "locale": "en-US",
        "sign_up": "Sign up",
        "username": "Username",
        "name": "Name",
        "password": "Password",
        "password_again": "Password again",
        "create_account": "Create account",
        "hello": "Hello, {name}",
        "connect": "Connect Telegram",
        "open_link": "Open the link in the simulated Telegram",
        "connected": "Connected to {name}",
        "linked_reply": "Done, {name}!",
        "message": "Message",
        "send": "Send to Telegram",
        "queued": "queued",
        "sent": "sent",
        "tokens": "API tokens",
        "token_name": "Token name",
        "create": "Create",
        "never": "never",
        "log_out": "Log out",
        "log_in": "Log in",
    },
    "ru": {
        "locale": "ru-RU",
        "sign_up": "Зарегистрироваться",
        "username": "Имя пользователя",
        "name": "Имя",
        "password": "Пароль",
        "password_again": "Пароль ещё раз",
        "create_account": "Создать аккаунт",
        "hello": "Здравствуйте, {name}",
        "connect": "Подключить Telegram",
        "open_link": "Открыть ссылку в симуляции Telegram",
        "connected": "Подключён чат {name}",
        "linked_reply": "Готово, {name}!",
        "message": "Сообщение",
        "send": "Отправить в Telegram",
        "queued": "в очереди",
        "sent": "доставлено",
        "tokens": "API-токены",
        "token_name": "Название токена",
        "create": "Создать",
        "never": "никогда",
        "log_out": "Выйти",
        "log_in": "Войти",
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: .ci/run installs it before the tests.")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop under the test, which Django takes
    # for async code; the test's own database calls are plain synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo_site(live_server, tg, settings) -> str:
    """The live server in demo mode, its bot fed by the simulated Telegram through the webhook."""
    settings.TELEGRAM_DEMO = True
    get_bot().set_webhook(f"{live_server.url}/telegram/webhook/", settings.TELEGRAM_WEBHOOK_SECRET)
    return live_server.url


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_whole_flow_in_a_browser(language, browser, demo_site, tg, tmp_path):
    from playwright.sync_api import expect

    # Page updates come from polling every few seconds; a busy two-core machine needs more than the default 5 s.
    expect.set_options(timeout=WAIT_MS)
    t = TEXTS[language]
    username, name = f"olga_{language}", "Olga"
    context = browser.new_context(locale=t["locale"], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Sign up: the cabinet asks to log in first, sign-up is a link away.
    page.goto(f"{demo_site}/cabinet/")
    page.get_by_role("link", name=t["sign_up"]).click()
    page.get_by_label(t["username"], exact=True).fill(username)
    page.get_by_label(t["name"], exact=True).fill(name)
    page.get_by_label(t["password"], exact=True).fill(PASSWORD)
    page.get_by_label(t["password_again"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t["create_account"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t["hello"].format(name=name))
    expect(page.locator(".demo-banner")).to_be_visible()

    # Connect Telegram: a fresh code with its QR code; "open" the deep link in the simulated chat.
    page.get_by_role("button", name=t["connect"]).click()
    expect(page.locator(".qr svg")).to_be_visible()
    code = page.locator("#link-code").input_value()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code)
    page.get_by_role("button", name=t["open_link"]).click()
    # The page notices the link by itself and reloads the dashboard.
    expect(page.locator(".link-status.linked")).to_contain_text(t["connected"].format(name=name))
    chat = page.locator("#simulated-chat")
    expect(chat.locator(".bubble.from-me").first).to_contain_text(f"/start {code}")
    expect(chat.locator(".bubble.from-bot").first).to_contain_text(t["linked_reply"].format(name=name))

    # Send a message from the page. Telegram fails the first attempt, so it waits queued...
    tg.add_fault(kind="500")
    text = f"Hello from the browser ({language})"
    page.get_by_label(t["message"], exact=True).fill(text)
    page.get_by_role("button", name=t["send"]).click()
    row = page.locator("ol.messages li.message").first
    expect(row.locator(".badge")).to_have_text(t["queued"])
    page.evaluate("window.stillTheSamePage = true")
    # ...until the retry is due and the worker's sweep sends it: the badge turns without a reload.
    make_due()
    run_sweep()
    expect(row.locator(".badge")).to_have_text(t["sent"])
    assert page.evaluate("window.stillTheSamePage") is True
    relayed = f"{name}, я получил от тебя сообщение:\n{text}"
    expect(chat.locator(".bubble.from-bot").last).to_contain_text(relayed)
    if language == "en":
        _screenshots(page, chat, tmp_path)

    # An API token, shown once, used with an HTTP client.
    page.get_by_role("link", name=t["tokens"], exact=True).click()
    page.get_by_label(t["token_name"], exact=True).fill("laptop")
    page.get_by_role("button", name=t["create"], exact=True).click()
    token = page.locator("#new-token").input_value()
    expect(page.locator("#curl-example")).to_contain_text(f"Authorization: Bearer {token}")
    with httpx.Client(base_url=f"{demo_site}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        accepted = api.post("/messages/", json={"text": "from the API"})
        assert accepted.status_code == 202, accepted.text
        assert [item["text"] for item in api.get("/messages/").json()["results"]] == ["from the API", text]
    # Shown once: the list, opened again, has the token's name and its last use, never its value.
    page.get_by_role("link", name=t["tokens"], exact=True).click()
    expect(page.locator("#new-token")).to_have_count(0)
    last_used = page.locator("table.tokens tbody tr").first.locator("td").nth(3)
    expect(last_used).not_to_have_text(t["never"])
    page.get_by_role("link", name="Dashboard" if language == "en" else "Главная").click()
    expect(chat.locator(".bubble.from-bot").last).to_contain_text(f"{name}, я получил от тебя сообщение:\nfrom the API")

    # Log out: back to the login page, and the cabinet is closed again.
    page.get_by_role("button", name=t["log_out"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t["log_in"])
    page.goto(f"{demo_site}/cabinet/tokens/")
    expect(page.get_by_role("heading", level=1)).to_have_text(t["log_in"])
    assert errors == []
    # Leave the cabinet first, so no poll is still running when the server stops.
    page.goto("about:blank")
    context.close()


def _screenshots(page, chat, tmp_path: Path) -> None:
    folder = DOCS_IMG if os.environ.get("DOCS_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / "dashboard.png", full_page=True)
    chat.screenshot(path=folder / "simulated-chat.png")
