"""Demo mode: the simulated chat with the bot, through the simulated Telegram's control API."""

import pytest
from django.urls import reverse

from cabinet import demo
from conftest import poll_bot
from relay.models import Destination, Message
from relaybot.models import LinkCode

DASHBOARD = reverse("cabinet:dashboard")
CHAT = reverse("cabinet:demo-chat")
SAY = reverse("cabinet:demo-say")
CONNECT = reverse("cabinet:telegram-connect")
SEND = reverse("cabinet:message-send")
FRAGMENT = {"HTTP_X_FRAGMENT": "demo-chat"}


@pytest.fixture
def demo_mode(tg, settings, monkeypatch):
    settings.TELEGRAM_DEMO = True
    # No bot runs beside these tests to answer at once: poll_bot() plays it afterwards.
    monkeypatch.setattr(demo, "REPLY_WAIT_SECONDS", 0)
    return tg


def test_outside_demo_mode_the_control_api_is_never_called(alice, alice_web, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the control API was called outside demo mode")

    monkeypatch.setattr(demo.httpx, "request", refuse)
    html = alice_web.get(DASHBOARD).content.decode()
    assert "Simulated Telegram" not in html
    assert alice_web.get(CHAT).status_code == 404
    assert alice_web.post(SAY, {"text": "/help"}).status_code == 404
    with pytest.raises(demo.DemoOff):
        demo.conversation(user=alice, session={})


def test_the_dashboard_shows_the_simulation_and_says_so(demo_mode, alice_web, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        html = alice_web.get(DASHBOARD).content.decode()
    assert "Demo mode." in html
    assert "nothing reaches real Telegram" in html
    assert 'id="simulated-chat"' in html
    assert "@relay_test_bot" in html


def test_the_user_writes_to_the_bot_and_sees_its_answer(demo_mode, alice, alice_web, django_assert_max_num_queries):
    response = alice_web.post(SAY, {"text": "/help"}, **FRAGMENT)
    assert response.status_code == 200
    assert [b.text for b in response.context["demo_bubbles"]] == ["/help"]
    poll_bot()
    with django_assert_max_num_queries(3):
        bubbles = alice_web.get(CHAT).context["demo_bubbles"]
    assert [(b.from_bot, b.text.split("\n")[0]) for b in bubbles] == [
        (False, "/help"),
        (True, "I forward here the messages you send through the tg-relay API."),
    ]


def test_the_simulated_user_is_named_as_the_account_and_speaks_the_pages_language(demo_mode, alice, alice_web):
    alice_web.post(SAY, {"text": "hello"}, **FRAGMENT)
    poll_bot()
    # Anything but a command or a link code makes the bot hand out a verification code for the sender.
    code = LinkCode.objects.get(kind=LinkCode.Kind.VERIFY)
    assert (code.chat_id, code.chat_first_name, code.chat_language_code) == (demo.user_id_for(alice), "Alice", "en")


def test_the_bot_answers_in_the_language_of_the_page(demo_mode, alice_web):
    alice_web.post(SAY, {"text": "/help"}, HTTP_ACCEPT_LANGUAGE="ru", **FRAGMENT)
    poll_bot()
    bubbles = alice_web.get(CHAT, HTTP_ACCEPT_LANGUAGE="ru").context["demo_bubbles"]
    assert bubbles[-1].text.startswith("Я пересылаю сюда сообщения")


def test_linking_through_the_simulated_deep_link_and_receiving_a_message(
    demo_mode, alice, alice_web, django_capture_on_commit_callbacks
):
    response = alice_web.post(CONNECT, follow=True)
    assert "Open the link in the simulated Telegram" in response.content.decode()
    code = response.context["connect"]["code"]
    alice_web.post(SAY, {"text": f"/start {code}"}, **FRAGMENT)
    poll_bot()
    chat = Destination.objects.get(user=alice)
    assert (chat.chat_id, chat.title) == (demo.user_id_for(alice), "Alice")
    fragment = alice_web.get(CHAT).content.decode()
    assert f'data-linked="{chat.chat_id}"' in fragment
    assert "Done, Alice! This chat is linked to the account alice." in fragment

    with django_capture_on_commit_callbacks(execute=True):
        alice_web.post(SEND, {"text": "from the page"})
    assert Message.objects.get(user=alice).status == Message.Status.SENT
    bubbles = alice_web.get(CHAT).context["demo_bubbles"]
    assert bubbles[-1].text == "Alice, я получил от тебя сообщение:\nfrom the page"
    assert bubbles[-1].from_bot


def test_each_account_sees_only_its_own_simulated_chat(demo_mode, alice, bob, alice_web, bob_web):
    alice_web.post(SAY, {"text": "alice was here"}, **FRAGMENT)
    poll_bot()
    assert "alice was here" not in bob_web.get(CHAT).content.decode()
    assert bob_web.get(CHAT).context["demo_bubbles"] == []
    assert demo.user_id_for(alice) != demo.user_id_for(bob)


def test_without_javascript_the_chat_form_returns_to_the_page(demo_mode, alice_web):
    response = alice_web.post(SAY, {"text": "hi"})
    assert (response.status_code, response.url) == (303, DASHBOARD + "#simulated-chat")


def test_a_silent_simulator_is_reported_not_fatal(demo_mode, alice_web, settings):
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"
    settings.TELEGRAM_BOT_USERNAME = "relay_test_bot"
    html = alice_web.get(DASHBOARD).content.decode()
    assert "The simulated Telegram does not answer." in html
    response = alice_web.post(SAY, {"text": "hi"}, **FRAGMENT)
    assert response.status_code == 200
    assert "The simulated Telegram does not answer." in response.content.decode()
