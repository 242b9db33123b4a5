"""The cabinet in a real browser: Debian's Chromium, driven by Playwright, against the live test server in demo mode.

A person signs up, links Telegram through the simulated chat, sends a message
from the page and watches it turn "sent" and arrive in the chat, makes an API
token and uses it, and logs out; once in English and once in Russian. The
simulated Telegram pushes the bot's updates to the live server's webhook, so
the bot answers inside the server, as it would in production.

Then the finish of the pages: a long simulated chat leaves no blank page
below the footer, on a phone the chat follows the send form, Ctrl+Enter sends
and the focus returns to the message box, a failed login focuses the password,
and every form answers with the page of its outcome.

Skipped only where Chromium is missing outside CI; under CI a missing
Chromium fails (.ci/run installs it). DOCS_SCREENSHOTS=1 saves the dashboard
(desktop and 390×844 phone, English and Russian) and the simulated chat to
docs/img/ for the README.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from knox.models import AuthToken

from cabinet import demo
from conftest import PASSWORD as USER_PASSWORD
from conftest import link, make_due, make_user, run_sweep
from relaybot.client import get_bot

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
    _screenshots(page, chat, tmp_path, language)

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


def _screenshots(page, chat, tmp_path: Path, language: str) -> None:
    folder = DOCS_IMG if os.environ.get("DOCS_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "" if language == "en" else f"-{language}"
    page.screenshot(path=folder / f"dashboard{suffix}.png", full_page=True)
    if language == "en":
        chat.screenshot(path=folder / "simulated-chat.png")
    # The same page on a 390×844 phone, its chat scrolled to the latest message as on opening the page there.
    page.set_viewport_size(PHONE)
    chat.locator(".chat-log").evaluate("log => { log.scrollTop = log.scrollHeight; }")
    page.screenshot(path=folder / f"dashboard{suffix}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)


# -- the cabinet's finish: page height, phone layout, keyboard, redirects after forms ----------------------

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _logged_in_page(browser, site: str, *, viewport: dict, username: str = "vera"):
    """A page logged in through the form, after one wrong password (whose answer is checked on the way)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    user = make_user(username, "Vera")
    context = browser.new_context(locale="en-US", viewport=viewport)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{site}/cabinet/login/")
    page.get_by_label("Username", exact=True).fill(username.upper())
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").or_(page.locator(".errorlist.nonfield"))).to_contain_text(
        "Wrong username or password. The username may be typed in any case"
    )
    # The username stays as typed; the password is what to type again, and it has the focus.
    expect(page).to_have_url(f"{site}/cabinet/login/")
    expect(page.get_by_label("Username", exact=True)).to_have_value(username.upper())
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(USER_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Vera")
    return user, context, page, errors


def _close(context, page, errors: list) -> None:
    assert errors == []
    # Leave the cabinet first, so no poll is still running when the server stops.
    page.goto("about:blank")
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_long_simulated_chat_leaves_no_blank_page_below_the_footer(browser, demo_site, viewport):
    from playwright.sync_api import expect

    user, context, page, errors = _logged_in_page(browser, demo_site, viewport=viewport)
    bot = get_bot()
    for number in range(30):
        bot.send_message(demo.user_id_for(user), f"Relayed message {number}\nwith a second line")
    page.reload()
    expect(page.locator(".chat-log .bubble")).to_have_count(30)
    # The chat scrolls inside its box: the page ends with its footer.
    page_height = page.evaluate("document.documentElement.scrollHeight")
    footer_bottom = page.evaluate("document.querySelector('footer').getBoundingClientRect().bottom + window.scrollY")
    assert page_height <= footer_bottom + 1, (page_height, footer_bottom)
    chat_log = page.locator(".chat-log")
    assert chat_log.evaluate("log => log.scrollHeight > log.clientHeight")
    _close(context, page, errors)


def test_on_a_phone_the_simulated_chat_follows_the_send_form(browser, demo_site):
    user, context, page, errors = _logged_in_page(browser, demo_site, viewport=PHONE)
    send = page.locator("#send").bounding_box()
    chat = page.locator("#simulated-chat").bounding_box()
    recent = page.locator("#recent").bounding_box()
    # One column: the send form, then the chat right below it, then the latest messages.
    assert send["y"] + send["height"] <= chat["y"] < recent["y"], (send, chat, recent)
    assert chat["y"] - (send["y"] + send["height"]) < 40
    assert chat["width"] <= PHONE["width"]
    # On a desktop the chat stands beside the column, as before.
    page.set_viewport_size(DESKTOP)
    send = page.locator("#send").bounding_box()
    chat = page.locator("#simulated-chat").bounding_box()
    assert chat["x"] >= send["x"] + send["width"]
    _close(context, page, errors)


def test_ctrl_enter_sends_and_the_message_box_keeps_the_focus(browser, demo_site, tg):
    from playwright.sync_api import expect

    user, context, page, errors = _logged_in_page(browser, demo_site, viewport=DESKTOP)
    link(user, demo.user_id_for(user))
    page.reload()
    box = page.get_by_label("Message", exact=True)
    expect(page.locator(".key-hint")).to_have_text("or Ctrl+Enter")
    for number, keys in enumerate(["Control+Enter", "Meta+Enter"], start=1):
        box.fill(f"typed and sent with {keys}")
        box.press(keys)
        expect(page.locator(".flash")).to_contain_text("The message is on its way.")
        expect(page.locator("ol.messages li.message")).to_have_count(number)
        expect(page.locator("ol.messages li.message").first).to_contain_text(f"typed and sent with {keys}")
        # After the send the focus is back in the (empty) message box, ready for the next one.
        expect(box).to_be_focused()
        expect(box).to_have_value("")
    # A refused send keeps the text, says why, and focuses the box too.
    box.fill("   ")
    box.press("Control+Enter")
    expect(page.locator("#send .errorlist")).to_contain_text("The message is empty.")
    expect(box).to_be_focused()
    _close(context, page, errors)


def test_forms_answer_with_the_page_of_their_outcome(browser, demo_site):
    from playwright.sync_api import expect

    user, context, page, errors = _logged_in_page(browser, demo_site, viewport=DESKTOP)
    # A POST-only address opened from the address bar lands on the page that holds its form.
    for path, landing in [
        ("/cabinet/telegram/connect/", "/cabinet/#telegram"),
        ("/cabinet/telegram/verify/", "/cabinet/#telegram"),
        ("/cabinet/messages/send/", "/cabinet/#send"),
    ]:
        response = page.goto(f"{demo_site}{path}")
        assert response.status == 200
        expect(page).to_have_url(f"{demo_site}{landing}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Vera")
    # A wrong code: the dashboard shows it under the field, at the dashboard's address.
    page.get_by_text("Have a verification code from the bot?").click()
    page.get_by_label("Verification code from the bot").fill("WRONG123")
    page.get_by_role("button", name="Connect this chat").click()
    expect(page).to_have_url(f"{demo_site}/cabinet/#telegram")
    expect(page.locator(".verify .errorlist")).to_contain_text("This code is wrong, used or expired.")
    expect(page.get_by_label("Verification code from the bot")).to_have_value("WRONG123")
    # A token: shown once at the tokens page's address; reloading makes no second one and hides the value.
    page.goto(f"{demo_site}/cabinet/tokens/")
    page.get_by_label("Token name", exact=True).fill("laptop")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page).to_have_url(f"{demo_site}/cabinet/tokens/")
    token = page.locator("#new-token").input_value()
    assert token not in page.url
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("table.tokens tbody tr")).to_have_count(1)
    assert AuthToken.objects.filter(user=user).count() == 1
    # An unknown address is a page in the cabinet's style, not JSON.
    response = page.goto(f"{demo_site}/cabinet/nope/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    _close(context, page, errors)
