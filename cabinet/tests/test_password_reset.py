"""Forgot password: a one-time link through the linked chat, the same answer for any username."""

import re
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import PasswordResetToken
from conftest import ALICE_CHAT, BOB_CHAT, PASSWORD, link
from relay.models import Destination
from relaybot.codes import hash_code

LOGIN = reverse("cabinet:login")
DASHBOARD = reverse("cabinet:dashboard")
FORGOT = reverse("cabinet:password-forgot")
SENT = reverse("cabinet:password-forgot-sent")
RESET = reverse("cabinet:password-reset")
NEW_PASSWORD = "a brand new long secret"
# From the configured public address, whatever host the request came to.
LINK = re.compile(re.escape(settings.PUBLIC_URL) + r"(/cabinet/password/reset/([A-Za-z0-9_-]{43})/)")


def ask(username: str, address: str = "198.51.100.7") -> Client:
    """A browser that asks for a reset link, as someone who is not logged in."""
    browser = Client(REMOTE_ADDR=address)
    response = browser.post(FORGOT, {"username": username})
    assert response.status_code == 303
    return browser


def reset_links(tg, chat_id: int = ALICE_CHAT) -> list[str]:
    """The reset pages the bot linked to in the chat, oldest first."""
    return [match.group(1) for record in tg.sent(chat_id=chat_id) if (match := LINK.search(record["text"]))]


def open_link(browser: Client, path: str) -> None:
    """Follow the bot's link: the browser gets the reset page, its address no longer holds the token."""
    response = browser.get(path)
    assert (response.status_code, response.url) == (302, RESET)


def set_password(browser: Client, password: str = NEW_PASSWORD):
    return browser.post(RESET, {"new_password1": password, "new_password2": password})


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_login_page_offers_forgot_password(db):
    assert f'href="{FORGOT}"' in Client().get(LOGIN).content.decode()


def test_the_bot_sends_a_one_time_link_to_the_linked_chat(tg, alice):
    link(alice, ALICE_CHAT)
    browser = Client()
    response = browser.post(FORGOT, {"username": " ALICE "})
    assert (response.status_code, response.url) == (303, SENT)

    [message] = tg.sent(chat_id=ALICE_CHAT)
    assert message["text"].startswith("Кто-то попросил сбросить пароль аккаунта alice.")
    assert "30 мин." in message["text"]
    [path] = reset_links(tg)
    open_link(browser, path)
    page = browser.get(RESET)
    assert page.status_code == 200
    assert "<strong>alice</strong>" in page.content.decode()


def test_the_link_is_stored_only_as_an_hmac(tg, alice):
    link(alice, ALICE_CHAT)
    ask("alice")
    token = LINK.search(tg.sent()[0]["text"]).group(2)
    [stored] = PasswordResetToken.objects.values_list("token_hash", "user_id", "used_at", "expires_at")
    assert stored[0] == hash_code(token) != token
    assert token not in str(stored)
    assert timedelta(minutes=29) < stored[3] - timezone.now() <= timedelta(minutes=30)


def test_an_opened_link_is_worth_nothing_to_whoever_reads_it_later(tg, alice):
    """An access log or the browser's history keeps the address: the token in it stops working once opened."""
    link(alice, ALICE_CHAT)
    browser = ask("alice")
    [path] = reset_links(tg)
    open_link(browser, path)

    later = Client()
    assert later.get(path).status_code == 404
    assert later.get(RESET).status_code == 404
    assert later.post(RESET, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 404
    assert PasswordResetToken.objects.get().token_hash != hash_code(LINK.search(tg.sent()[0]["text"]).group(2))
    assert browser.get(RESET).status_code == 200


def test_the_answer_is_the_same_whether_the_account_exists_or_not(tg, alice, bob):
    link(alice, ALICE_CHAT)
    # alice has a chat, bob has none, nobody does not exist.
    pages = []
    for username in ("alice", "bob", "nobody"):
        browser = Client()
        response = browser.post(FORGOT, {"username": username})
        page = browser.get(response.url)
        pages.append((response.status_code, response.url, page.status_code, without_csrf(page.content.decode())))
    assert pages[0] == pages[1] == pages[2]
    html = pages[0][3]
    assert "If the account has a connected Telegram chat" in html
    assert "manage.py changepassword" in html
    assert len(tg.sent()) == 1 and len(reset_links(tg)) == 1


def test_no_link_for_a_chat_telegram_cannot_reach(tg, alice):
    chat = link(alice, ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).update(unreachable_reason="Forbidden: bot was blocked by the user")
    ask("alice")
    assert tg.sent() == []
    assert not PasswordResetToken.objects.exists()


def test_the_link_sets_a_new_password_and_signs_out_every_session(tg, alice):
    link(alice, ALICE_CHAT)
    elsewhere = Client()
    elsewhere.force_login(alice)
    browser = ask("alice")
    [path] = reset_links(tg)
    open_link(browser, path)

    response = set_password(browser)
    assert (response.status_code, response.url) == (303, LOGIN)
    assert "Your new password is set" in browser.get(LOGIN).content.decode()
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert elsewhere.get(DASHBOARD).status_code == 302
    logged_in = browser.post(LOGIN, {"username": "alice", "password": NEW_PASSWORD})
    assert (logged_in.status_code, logged_in.url) == (303, DASHBOARD)


def test_the_link_works_once(tg, alice):
    link(alice, ALICE_CHAT)
    browser = ask("alice")
    [path] = reset_links(tg)
    open_link(browser, path)
    set_password(browser)

    for page in (browser.get(RESET), browser.get(path)):
        assert page.status_code == 404
        assert "This link does not work" in page.content.decode()
    assert set_password(browser, "yet another long secret").status_code == 404
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_an_expired_link_does_not_work(tg, alice):
    link(alice, ALICE_CHAT)
    browser = ask("alice")
    [path] = reset_links(tg)
    open_link(browser, path)
    # The test stands in for the clock.
    PasswordResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert browser.get(RESET).status_code == 404
    assert set_password(browser).status_code == 404
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_an_expired_link_does_not_open(tg, alice):
    link(alice, ALICE_CHAT)
    browser = ask("alice")
    [path] = reset_links(tg)
    PasswordResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert browser.get(path).status_code == 404


def test_a_wrong_token_shows_the_same_page_as_a_used_one(db):
    page = Client().get(reverse("cabinet:password-reset-open", kwargs={"token": "x" * 43}))
    assert page.status_code == 404
    assert "This link does not work" in page.content.decode()


def test_a_weak_password_is_refused_and_the_link_still_works(tg, alice):
    link(alice, ALICE_CHAT)
    browser = ask("alice")
    [path] = reset_links(tg)
    open_link(browser, path)

    response = set_password(browser, "12345678")
    assert (response.status_code, response.url) == (303, RESET)
    assert "This password is too common." in browser.get(RESET).content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert set_password(browser).url == LOGIN


def test_a_newer_link_replaces_the_older_one(tg, alice):
    link(alice, ALICE_CHAT)
    ask("alice")
    browser = ask("alice")
    older, newer = reset_links(tg)
    assert browser.get(older).status_code == 404
    open_link(browser, newer)


def test_links_are_limited_per_username(tg, settings, alice):
    settings.PASSWORD_RESETS_PER_USERNAME = 3
    link(alice, ALICE_CHAT)
    for number in range(3):
        ask("alice", address=f"198.51.100.{number}")
    browser = ask("Alice", address="198.51.100.99")

    assert len(tg.sent()) == 3
    assert "Too many reset links asked for" in browser.get(FORGOT).content.decode()


def test_links_are_limited_per_address(tg, settings, alice):
    settings.PASSWORD_RESETS_PER_ADDRESS = 2
    link(alice, ALICE_CHAT)
    ask("somebody")
    ask("someone else")
    browser = ask("alice")

    assert tg.sent() == []
    assert "Too many reset links asked for" in browser.get(FORGOT).content.decode()
    ask("alice", address="203.0.113.5")
    assert len(tg.sent()) == 1


@pytest.mark.django_db(transaction=True)
def test_of_two_browsers_opening_one_link_only_one_gets_it(tg, alice, monkeypatch):
    link(alice, ALICE_CHAT)
    ask("alice")
    [path] = reset_links(tg)
    # Both requests meet here and swap the link's token at once.
    both_here = threading.Barrier(2, timeout=10)
    swap = account_services.open_password_reset

    def swap_together(**kwargs):
        both_here.wait()
        return swap(**kwargs)

    monkeypatch.setattr(account_services, "open_password_reset", swap_together)
    answers = []

    def open_it() -> None:
        try:
            answers.append(Client().get(path).status_code)
        finally:
            connection.close()

    racers = [threading.Thread(target=open_it) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(answers) == [302, 404]


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_uses_of_one_link_only_one_sets_the_password(tg, alice, bob, monkeypatch):
    link(alice, ALICE_CHAT)
    link(bob, BOB_CHAT)
    browser = ask("alice")
    [path] = reset_links(tg)
    open_link(browser, path)
    passwords = ["first racer's long secret", "second racer's long secret"]
    # A double click: both requests, of one browser, have found the link valid and the password good;
    # they meet here and redeem at once.
    both_checked = threading.Barrier(2, timeout=10)
    redeem = account_services.reset_password

    def redeem_together(**kwargs):
        both_checked.wait()
        return redeem(**kwargs)

    monkeypatch.setattr(account_services, "reset_password", redeem_together)
    answers = {}

    def use(password: str) -> None:
        tab = Client()
        tab.cookies = browser.cookies
        try:
            response = tab.post(RESET, {"new_password1": password, "new_password2": password})
            # The loser finds the link used at the conditional UPDATE, and is sent back to the page.
            answers[password] = response.url if response.status_code == 303 else response.status_code
        finally:
            connection.close()

    racers = [threading.Thread(target=use, args=(password,)) for password in passwords]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    winners = [password for password, url in answers.items() if url == LOGIN]
    assert len(answers) == 2 and len(winners) == 1, answers
    alice.refresh_from_db()
    assert alice.check_password(winners[0])
    assert PasswordResetToken.objects.filter(used_at__isnull=False).count() == 1
