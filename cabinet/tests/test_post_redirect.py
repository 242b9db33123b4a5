"""Every form answers 303 with the page that shows its outcome; POST-only addresses opened by hand go to their form."""

import pytest
from django.urls import reverse
from knox.models import AuthToken

from conftest import ALICE_CHAT, link
from relay.models import Destination, Message
from relaybot.models import LinkCode

DASHBOARD = reverse("cabinet:dashboard")
TOKENS = reverse("cabinet:tokens")
PROFILE = reverse("cabinet:profile")


@pytest.mark.parametrize(
    ("name", "page"),
    [
        ("telegram-connect", DASHBOARD + "#telegram"),
        ("telegram-verify", DASHBOARD + "#telegram"),
        ("telegram-disconnect", DASHBOARD + "#telegram"),
        ("message-send", DASHBOARD + "#send"),
        ("token-revoke", TOKENS),
        ("password-change", PROFILE + "#password"),
        ("logout", DASHBOARD),
    ],
)
def test_a_post_only_address_opened_from_the_address_bar_goes_to_its_form(alice, alice_web, name, page):
    link(alice, ALICE_CHAT)
    response = alice_web.get(reverse(f"cabinet:{name}"))
    assert (response.status_code, response.url) == (303, page)
    # Nothing happened: still linked, logged in, no code made.
    assert alice_web.get(DASHBOARD).status_code == 200
    assert Destination.objects.get(user=alice).chat_id == ALICE_CHAT
    assert not LinkCode.objects.exists()


def test_a_new_token_survives_one_page_only_and_a_reload_makes_none(alice, alice_web):
    response = alice_web.post(TOKENS, {"name": "laptop"})
    assert (response.status_code, response.url) == (303, TOKENS)
    assert "laptop" not in response.url
    first = alice_web.get(TOKENS)
    value = first.context["new_token"]["value"]
    assert value not in response.url
    assert f'value="{value}"' in first.content.decode()
    # The reload is a GET of the tokens page: the value is gone and no second token appears.
    again = alice_web.get(TOKENS)
    assert again.context["new_token"] is None
    assert value not in again.content.decode()
    assert AuthToken.objects.filter(user=alice).count() == 1


def test_the_link_code_stays_on_the_dashboard_until_a_chat_links(tg, alice, alice_web):
    alice_web.post(reverse("cabinet:telegram-connect"))
    code = alice_web.get(DASHBOARD).context["connect"]["code"]
    # A reload shows the same code rather than making another.
    assert alice_web.get(DASHBOARD).context["connect"]["code"] == code
    assert LinkCode.objects.count() == 1
    link(alice, ALICE_CHAT)
    assert alice_web.get(DASHBOARD).context["connect"] is None


def test_a_refused_send_keeps_the_text_and_focuses_the_box(alice, alice_web):
    text = "first line\nsecond line"
    alice_web.post(reverse("cabinet:message-send"), {"text": text})
    page = alice_web.get(DASHBOARD)
    form = page.context["send_form"]
    assert form["text"].value() == text
    assert form.errors["text"] == ["Connect Telegram first: there is no chat to deliver to."]
    assert "autofocus" in str(form["text"])
    # Shown once: a reload starts over.
    assert not alice_web.get(DASHBOARD).context["send_form"].is_bound


def test_after_a_send_the_message_box_has_the_focus(tg, alice, alice_web):
    link(alice, ALICE_CHAT)
    response = alice_web.post(reverse("cabinet:message-send"), {"text": "hello"})
    assert (response.status_code, response.url) == (303, DASHBOARD)
    assert Message.objects.filter(user=alice).count() == 1
    assert "autofocus" in str(alice_web.get(DASHBOARD).context["send_form"]["text"])
    # Only straight after a send: an ordinary visit does not move the focus.
    assert "autofocus" not in str(alice_web.get(DASHBOARD).context["send_form"]["text"])


def test_passwords_never_travel_in_the_session(alice, alice_web):
    alice_web.post(
        reverse("cabinet:password-change"),
        {"old_password": "not it", "new_password1": "zq7", "new_password2": "zq7"},
    )
    kept = alice_web.session["cabinet_outcome"]["password"]
    assert kept["data"] == {}
    assert "zq7" not in str(kept) and "not it" not in str(kept)
