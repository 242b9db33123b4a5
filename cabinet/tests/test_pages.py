"""What the pages say: one health state per chat, the language switcher, form errors where they belong."""

import re

from django.urls import reverse

from accounts.models import User
from conftest import ALICE_CHAT, PASSWORD, link
from relay.models import Destination

DASHBOARD = reverse("cabinet:dashboard")
LOGIN = reverse("cabinet:login")
SIGNUP = reverse("cabinet:signup")
PROFILE = reverse("cabinet:profile")


def test_an_unreachable_chat_is_one_red_state_with_its_reason_and_reconnect(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    reason = "Forbidden: bot was blocked by the user"
    Destination.objects.filter(pk=chat.pk).update(username="alice_tg", unreachable_reason=reason)
    html = alice_web.get(DASHBOARD).content.decode()
    assert 'class="link-status unreachable"' in html
    assert "Unreachable: Telegram cannot deliver to <strong>@alice_tg</strong>" in html
    assert "Telegram said: Forbidden: bot was blocked by the user." in html
    # Not also "connected", and the button says what it does.
    assert "Connected to" not in html
    assert "link-status linked" not in html
    assert ">Reconnect</button>" in html
    assert "Connect another chat" not in html
    assert "Disconnect" in html
    # Linked again (the bot unblocked): connected in green, and nothing says otherwise.
    link(alice, ALICE_CHAT)
    html = alice_web.get(DASHBOARD).content.decode()
    assert 'class="link-status linked"' in html
    assert "unreachable" not in html and "Unreachable" not in html
    assert "Connect another chat" in html
    assert ">Reconnect</button>" not in html


def test_the_unreachable_state_is_translated(alice, alice_web):
    chat = link(alice, ALICE_CHAT)
    Destination.objects.filter(pk=chat.pk).update(unreachable_reason="Forbidden: bot was blocked by the user")
    html = alice_web.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert ">Переподключить</button>" in html
    assert "Недоступен" in html


def test_the_switcher_names_each_language_in_itself(client, db):
    for language in ("ru", "en"):
        html = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert re.search(r'<option value="en" lang="en"( selected)?>English</option>', html), language
        assert re.search(r'<option value="ru" lang="ru"( selected)?>Русский</option>', html), language
        assert "Английский" not in html and ">Russian<" not in html


def test_signup_reports_a_short_password_and_a_mismatch_at_once(client, db):
    data = {"username": "carol", "name": "Carol", "password": "short", "password_repeat": "shorter"}
    client.post(SIGNUP, data)
    form = client.get(SIGNUP).context["form"]
    assert any("too short" in error for error in form.errors["password"])
    assert form.errors["password_repeat"] == ["The passwords do not match."]
    # The values typed stay, the passwords do not.
    assert (form["username"].value(), form["name"].value()) == ("carol", "Carol")
    assert not User.objects.filter(username="carol").exists()


def test_a_short_new_password_is_reported_under_the_new_password(alice, alice_web):
    data = {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"}
    alice_web.post(reverse("cabinet:password-change"), data)
    form = alice_web.get(PROFILE).context["password_form"]
    assert any("too short" in error for error in form.errors["new_password1"])
    assert "new_password2" not in form.errors
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_failed_login_keeps_the_username_and_focuses_the_password(client, alice):
    client.post(LOGIN, {"username": "ALICE", "password": "wrong"})
    page = client.get(LOGIN)
    form = page.context["form"]
    assert form["username"].value() == "ALICE"
    assert "autofocus" in str(form["password"])
    assert "autofocus" not in str(form["username"])
    html = page.content.decode()
    assert "Wrong username or password. The username may be typed in any case; the password may not." in html
    assert "case-sensitive" not in html
    # A fresh visit focuses the username as before.
    assert "autofocus" in str(client.get(LOGIN).context["form"]["username"])
