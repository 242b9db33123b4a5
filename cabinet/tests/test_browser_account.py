"""The account pages in Chromium with JavaScript off: confirm steps, password reset, export, deletion.

Everything here must work as plain links and forms. The bot's messages are
checked at the simulated Telegram.
"""

import json
import re
from pathlib import Path

from accounts.services import issue_named_token
from cabinet.tests.test_browser import WAIT_MS, browser  # noqa: F401 (the module's Chromium fixture)
from conftest import ALICE_CHAT, PASSWORD, link, make_user
from relay.services import enqueue_message
from relaybot.texts import text

NEW_PASSWORD = "a new browser password"


def test_confirm_reset_export_and_delete_without_javascript(browser, live_server, tg):  # noqa: F811
    from playwright.sync_api import expect

    alice = make_user("alice", "Alice")
    link(alice, ALICE_CHAT)
    issue_named_token(user=alice, name="backup script")
    context = browser.new_context(java_script_enabled=False, locale="en-US", accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    site = live_server.url

    def log_in(password: str) -> None:
        page.goto(f"{site}/cabinet/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Hello, Alice")).to_be_visible()

    # Disconnect asks on a page of its own; the bot then tells the chat.
    log_in(PASSWORD)
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("heading", name="Disconnect Telegram?")).to_be_visible()
    assert tg.sent() == []
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text("Telegram is disconnected.")).to_be_visible()
    assert [record["text"] for record in tg.wait_sent(1, chat_id=ALICE_CHAT)] == [
        text("ru", "unlinked", username="alice")
    ]

    # Revoke asks too, naming the token.
    page.get_by_role("link", name="API tokens").click()
    page.get_by_role("button", name="Revoke backup script").click()
    expect(page.get_by_text("Revoke the token “backup script”?")).to_be_visible()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("The token is revoked.")).to_be_visible()

    # Forgotten password: the link comes through the chat.
    link(alice, ALICE_CHAT)
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your Telegram")).to_be_visible()
    reset = tg.wait_sent(2, chat_id=ALICE_CHAT)[-1]["text"]
    path = re.search(r"/cabinet/password/reset/[A-Za-z0-9_-]+/", reset).group(0)
    page.goto(site + path)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_text("Your new password is set.")).to_be_visible()
    log_in(NEW_PASSWORD)

    # Export, then delete the account.
    enqueue_message(user=alice, text="=SUM(A1) for the record")
    page.get_by_role("link", name="Profile").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Messages as JSON").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [row["text"] for row in exported] == ["=SUM(A1) for the record"]
    page.get_by_label("Your password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account is deleted")).to_be_visible()
    deleted = tg.wait_sent(4, chat_id=ALICE_CHAT)[-1]["text"]
    assert deleted == text("ru", "account_deleted", username="alice")
    context.close()
