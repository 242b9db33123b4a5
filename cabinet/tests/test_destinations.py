"""The destinations page: listing, renaming, the default, the settings, removing, adding each kind; sending to one."""

import re
from html import unescape

import pytest
from django.urls import reverse

from cabinet import demo
from conftest import ALICE_CHAT, BOB_CHAT, link, poll_bot
from relay import destinations, services
from relay.destinations import ChatInfo
from relay.models import Destination, Message
from relaybot.models import LinkCode
from relaybot.services import link_by_link_code
from relaybot.texts import text

PAGE = reverse("cabinet:destinations")
ADD = reverse("cabinet:destination-add")
DASHBOARD = reverse("cabinet:dashboard")
SEND = reverse("cabinet:message-send")
MESSAGES = reverse("cabinet:messages")
DEMO_GROUP = reverse("cabinet:demo-group")
TEAM_CHAT = -1001234567890
# A member of the simulated groups below.
CAROL = 3003
HEADER = "Alice, я получил от тебя сообщение:\n"


def rename_url(destination: Destination) -> str:
    return reverse("cabinet:destination-rename", args=[destination.pk])


def default_url(destination: Destination) -> str:
    return reverse("cabinet:destination-default", args=[destination.pk])


def settings_url(destination: Destination) -> str:
    return reverse("cabinet:destination-settings", args=[destination.pk])


def remove_url(destination: Destination) -> str:
    return reverse("cabinet:destination-remove", args=[destination.pk])


def confirm_url(destination: Destination) -> str:
    return reverse("cabinet:destination-remove-confirm", args=[destination.pk])


def link_group(user, chat_id: int = TEAM_CHAT, title: str = "Team chat", **fields) -> Destination:
    chat = ChatInfo(chat_id=chat_id, kind=fields.pop("kind", "supergroup"), title=title, **fields)
    return destinations.link(user=user, chat=chat)


def card(html: str, destination: Destination) -> str:
    """The part of the page about one destination."""
    found = re.search(
        rf'<section class="card destination"[^>]*id="destination-{destination.pk}">(.*?)</section>', html, re.S
    )
    assert found, f"no card for destination {destination.pk}"
    return found.group(1)


# -- the list ------------------------------------------------------------------------------


def test_the_page_lists_the_accounts_own_destinations_only(alice, bob, alice_web, django_assert_max_num_queries):
    private = link(alice, ALICE_CHAT)
    topic = link_group(alice, kind="topic", title="Team chat / Alerts", thread_id=42)
    bobs = link_group(bob, chat_id=-1009999, title="Bob's secret group")
    with django_assert_max_num_queries(3):
        response = alice_web.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    mine = card(html, private)
    assert "me" in mine and "private chat" in mine and f"<code>{ALICE_CHAT}</code>" in mine
    assert '<span class="badge default">default</span>' in mine
    theirs = card(html, topic)
    assert "team-chat-alerts" in theirs and "forum topic" in theirs and "Team chat / Alerts" in theirs
    assert f"<code>{TEAM_CHAT}</code>" in theirs and "<code>42</code>" in theirs
    assert "badge default" not in theirs
    # The settings show as they are: the header on, silence and bundling off.
    assert re.search(r'name="header"[^>]*checked', theirs)
    assert not re.search(r'name="(silent|bundle)"[^>]*checked', theirs)
    assert "go out as one Telegram message" in theirs
    assert "Bob&#x27;s secret group" not in html and f'id="destination-{bobs.pk}"' not in html
    assert f'href="{PAGE}"' in html  # the navigation leads here


def test_an_unreachable_destination_shows_telegrams_words_first(alice, alice_web):
    group = link_group(alice)
    destinations.mark_unreachable(destination=group, reason=destinations.KICKED_REASON)
    mine = card(alice_web.get(PAGE).content.decode(), group)
    assert '<div class="link-status unreachable" role="alert">' in mine
    assert "Telegram said: Forbidden: bot was kicked from the group chat." in mine
    assert "Add the bot back to the group." in mine


def test_without_a_default_the_page_says_messages_without_to_are_refused(alice, alice_web):
    group = link_group(alice)
    destinations.update(destination=group, is_default=False)
    assert "No destination is the default" in alice_web.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("post", rename_url, {"label": "mine-now"}),
        ("post", default_url, {}),
        ("post", settings_url, {"silent": "on"}),
        ("post", remove_url, {}),
        ("get", confirm_url, {}),
    ],
)
def test_another_accounts_destination_is_not_found_by_its_id(alice, bob, bob_web, method, url, data):
    link(bob, BOB_CHAT)
    theirs = link_group(alice)
    destinations.update(destination=theirs, is_default=False)
    response = getattr(bob_web, method)(url(theirs), data)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.label, theirs.is_default, theirs.header, theirs.silent) == ("team-chat", False, True, False)


# -- rename ------------------------------------------------------------------------------


def test_renaming_changes_the_label(alice, alice_web):
    group = link_group(alice)
    response = alice_web.post(rename_url(group), {"label": "Alerts_2"})
    assert (response.status_code, response.url) == (303, f"{PAGE}#destination-{group.pk}")
    group.refresh_from_db()
    assert group.label == "Alerts_2"
    assert "The destination is now called “Alerts_2”." in alice_web.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("label", "error"),
    [
        ("team chat!", "Use 1 to 64 letters A–Z, digits, “-” or “_”."),
        ("x" * 65, "Ensure this value has at most 64 characters (it has 65)."),
        ("API", "“API” is a name the service uses for its own pages: choose another."),
        ("ME", "Another of your destinations is called “ME”: choose another label."),
    ],
)
def test_a_refused_label_is_the_forms_error_and_nothing_changes(alice, alice_web, label, error):
    link(alice, ALICE_CHAT)
    group = link_group(alice)
    response = alice_web.post(rename_url(group), {"label": label})
    assert (response.status_code, response.url) == (303, f"{PAGE}#destination-{group.pk}")
    mine = card(alice_web.get(PAGE).content.decode(), group)
    assert re.search(
        rf'<ul class="errorlist" id="d{group.pk}-label_error"><li>{re.escape(error)}</li></ul>', unescape(mine)
    )
    # What was typed stays in the box.
    assert f'value="{label}"' in mine
    group.refresh_from_db()
    assert group.label == "team-chat"


def test_label_errors_are_in_russian_too(alice, alice_web):
    group = link_group(alice)
    alice_web.post(rename_url(group), {"label": "bad label"}, HTTP_ACCEPT_LANGUAGE="ru")
    mine = card(alice_web.get(PAGE, HTTP_ACCEPT_LANGUAGE="ru").content.decode(), group)
    assert "От 1 до 64 латинских букв, цифр, «-» или «_»." in unescape(mine)


def test_a_label_that_differs_only_in_case_renames_the_same_destination(alice, alice_web):
    group = link_group(alice)
    alice_web.post(rename_url(group), {"label": "Team-Chat"})
    group.refresh_from_db()
    assert group.label == "Team-Chat"


# -- the default and the settings --------------------------------------------------------


def test_make_default_moves_the_default(alice, alice_web):
    private = link(alice, ALICE_CHAT)
    group = link_group(alice)
    html = alice_web.get(PAGE).content.decode()
    # The default has no button to become the default.
    assert f'action="{default_url(private)}"' not in html
    assert f'action="{default_url(group)}"' in html
    response = alice_web.post(default_url(group), follow=True)
    assert "“team-chat” is the default now" in response.content.decode()
    private.refresh_from_db()
    group.refresh_from_db()
    assert (private.is_default, group.is_default) == (False, True)


def test_the_settings_form_sets_each_toggle(alice, alice_web):
    group = link_group(alice)
    response = alice_web.post(settings_url(group), {"silent": "on", "bundle": "on"})
    assert (response.status_code, response.url) == (303, f"{PAGE}#destination-{group.pk}")
    group.refresh_from_db()
    assert (group.header, group.silent, group.bundle) == (False, True, True)
    mine = card(alice_web.get(PAGE).content.decode(), group)
    assert re.search(r'name="bundle"[^>]*checked', mine)
    assert not re.search(r'name="header"[^>]*checked', mine)
    alice_web.post(settings_url(group), {"header": "on"})
    group.refresh_from_db()
    assert (group.header, group.silent, group.bundle) == (True, False, False)


def test_a_message_sent_after_the_header_is_turned_off_has_none(alice, alice_web):
    private = link(alice, ALICE_CHAT)
    alice_web.post(settings_url(private), {"silent": "on"})
    alice_web.post(SEND, {"text": "quietly"})
    message = Message.objects.get(user=alice)
    assert (message.header, message.silent) == ("", True)


# -- remove ------------------------------------------------------------------------------


def test_remove_asks_first_then_removes_and_the_bot_tells_the_group(
    tg, alice, alice_web, django_capture_on_commit_callbacks
):
    group_id = tg.create_group("Team chat", supergroup=True, members={CAROL: "creator"})
    alice_web.post(ADD, {"label": "team"})
    code = alice_web.get(PAGE).context["adding"]["code"]
    tg.add_bot_to_group(group_id, by=CAROL, start=code)
    poll_bot()
    group = Destination.objects.get(user=alice, chat_id=group_id)
    assert (group.label, group.kind, group.title) == ("team", "supergroup", "Team chat")
    queued = Message.objects.create(user=alice, destination=group, text="waiting")

    html = alice_web.get(PAGE).content.decode()
    assert f'<form method="get" action="{confirm_url(group)}">' in html
    assert f'action="{remove_url(group)}"' not in html
    page = alice_web.get(confirm_url(group)).content.decode()
    assert "Remove “team” (Team chat) from your account?" in unescape(page)
    assert f'<form method="post" action="{remove_url(group)}">' in page
    assert f'href="{PAGE}#destination-{group.pk}"' in page
    assert Destination.objects.filter(pk=group.pk).exists()

    before = len(tg.sent(chat_id=group_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_web.post(remove_url(group), follow=True)
    assert "“team” is removed. Messages still queued for it were not sent." in unescape(response.content.decode())
    assert not Destination.objects.filter(pk=group.pk).exists()
    queued.refresh_from_db()
    assert queued.status == Message.Status.FAILED
    notices = [sent["text"] for sent in tg.sent(chat_id=group_id)[before:]]
    assert notices == [text("", "unlinked", username="alice")]


def test_the_remove_confirm_page_in_russian(alice, alice_web):
    group = link_group(alice)
    html = alice_web.get(confirm_url(group), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Удалить получателя?" in html


# -- add ---------------------------------------------------------------------------------


def test_add_shows_the_code_and_each_way_to_use_it(tg, alice, alice_web):
    response = alice_web.post(ADD, {"label": "alerts"})
    # The code never travels in an address.
    assert (response.status_code, response.url) == (303, f"{PAGE}#add")
    response = alice_web.get(PAGE)
    adding = response.context["adding"]
    code = adding["code"]
    assert LinkCode.objects.get(kind=LinkCode.Kind.LINK, user=alice).label == "alerts"
    html = unescape(response.content.decode())
    assert f'href="https://t.me/relay_test_bot?start={code}"' in html
    assert f'href="https://t.me/relay_test_bot?startgroup={code}"' in html
    assert f'value="/start@relay_test_bot {code}"' in html
    assert f'id="channel-code" class="code" value="{code}"' in html
    assert html.count("<svg") == 2  # a QR code for each link
    assert "A code for “alerts”" in html
    for step in ("Your private chat with the bot", "A group", "A topic of a forum group", "A channel"):
        assert f"<h4>{step}</h4>" in html
    assert "add the bot as an administrator allowed to post messages" in html
    # A reload shows the same code and makes no other.
    assert alice_web.get(PAGE).context["adding"]["code"] == code
    assert LinkCode.objects.count() == 1


def test_the_ways_to_add_in_russian(tg, alice, alice_web):
    alice_web.post(ADD, {"label": ""})
    html = alice_web.get(PAGE, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    for step in ("Ваш личный чат с ботом", "Группа", "Тема форума", "Канал"):
        assert f"<h4>{step}</h4>" in html


def test_the_code_goes_once_a_chat_is_linked_with_it(tg, alice, alice_web):
    link(alice, ALICE_CHAT)
    alice_web.post(ADD, {"label": ""})
    code = alice_web.get(PAGE).context["adding"]["code"]
    channel = link_by_link_code(code=code, chat=ChatInfo(chat_id=-100555, kind="channel", title="News"))
    response = alice_web.get(PAGE)
    assert response.context["adding"] is None
    assert code not in response.content.decode()
    assert "channel" in card(response.content.decode(), channel)


@pytest.mark.parametrize(
    ("label", "error"),
    [("no spaces", "Use 1 to 64 letters"), ("docs", "is a name the service uses"), ("Me", "Another of your")],
)
def test_add_refuses_a_label_it_could_not_use(alice, alice_web, label, error):
    link(alice, ALICE_CHAT)
    response = alice_web.post(ADD, {"label": label}, follow=True)
    assert error in unescape(response.content.decode())
    assert response.context["adding"] is None
    assert not LinkCode.objects.exists()


def test_add_takes_a_post(alice, alice_web):
    response = alice_web.get(ADD)
    assert (response.status_code, response.url) == (303, f"{PAGE}#add")
    assert not LinkCode.objects.exists()


# -- sending to a chosen destination -----------------------------------------------------


def test_the_send_form_offers_the_destinations_with_the_default_chosen(alice, alice_web):
    private = link(alice, ALICE_CHAT)
    html = alice_web.get(DASHBOARD).content.decode()
    # One destination, the default: nothing to choose.
    assert 'name="to"' not in html
    group = link_group(alice)
    html = unescape(alice_web.get(DASHBOARD).content.decode())
    assert f'<option value="{private.pk}" selected>me · Alice</option>' in html
    assert f'<option value="{group.pk}">team-chat · Team chat</option>' in html


def test_the_message_goes_to_the_chosen_destination(alice, alice_web, django_capture_on_commit_callbacks):
    link(alice, ALICE_CHAT)
    group = link_group(alice)
    response = alice_web.post(SEND, {"text": "to the team", "to": group.pk})
    assert (response.status_code, response.url) == (303, DASHBOARD)
    message = Message.objects.get(user=alice)
    assert message.destination == group
    # The list, the row and the message's page name where it went.
    assert "→ team-chat" in alice_web.get(DASHBOARD).content.decode()
    assert "→ team-chat" in alice_web.get(MESSAGES).content.decode()
    page = alice_web.get(reverse("cabinet:message", args=[message.pk])).content.decode()
    assert re.search(r"<dt>Destination</dt>\s*<dd>team-chat", page)


def test_a_destination_not_offered_is_refused_on_the_form(alice, bob, alice_web):
    link(alice, ALICE_CHAT)
    link_group(alice)
    bobs = link(bob, BOB_CHAT)
    response = alice_web.post(SEND, {"text": "hello", "to": bobs.pk}, follow=True)
    assert response.context["send_form"].errors["to"]
    assert response.context["send_form"]["text"].value() == "hello"
    assert not Message.objects.exists()


def test_a_destination_removed_meanwhile_is_a_page_message_not_an_error(alice, alice_web, monkeypatch):
    link(alice, ALICE_CHAT)
    group = link_group(alice)

    def removed_meanwhile(**kwargs):
        raise services.DestinationNotFound

    monkeypatch.setattr(services, "enqueue_message", removed_meanwhile)
    response = alice_web.post(SEND, {"text": "hello", "to": group.pk}, follow=True)
    assert response.status_code == 200
    assert response.context["send_form"].errors["to"] == ["This destination is gone: choose another."]


def test_sending_to_an_unreachable_group_says_why(alice, alice_web):
    link(alice, ALICE_CHAT)
    group = link_group(alice)
    destinations.mark_unreachable(destination=group, reason=destinations.KICKED_REASON)
    html = unescape(alice_web.get(DASHBOARD).content.decode())
    assert f'<option value="{group.pk}">team-chat · Team chat (unreachable)</option>' in html
    response = alice_web.post(SEND, {"text": "hello", "to": group.pk}, follow=True)
    (error,) = response.context["send_form"].errors["to"]
    assert "bot was kicked from the group chat" in error
    assert not Message.objects.exists()


def test_without_a_default_the_page_says_to_choose_one(alice, alice_web):
    group = link_group(alice)
    destinations.update(destination=group, is_default=False)
    html = alice_web.get(DASHBOARD).content.decode()
    # The one destination is offered, and a message goes there.
    assert f'<option value="{group.pk}">' in html
    assert "No destination is the default" in html
    alice_web.post(SEND, {"text": "hello", "to": group.pk})
    assert Message.objects.get(user=alice).destination == group


# -- the history by destination ----------------------------------------------------------


def test_the_history_filters_by_destination(alice, bob, alice_web, django_assert_max_num_queries):
    private = link(alice, ALICE_CHAT)
    group = link_group(alice)
    Message.objects.create(user=alice, destination=private, text="to me")
    Message.objects.create(user=alice, destination=group, text="to the team")
    Message.objects.create(user=alice, destination=None, text="to a chat since removed")
    with django_assert_max_num_queries(4):
        html = alice_web.get(MESSAGES).content.decode()
    assert "→ me" in html and "→ team-chat" in html and "→ a removed destination" in html
    with django_assert_max_num_queries(4):
        filtered = alice_web.get(MESSAGES, {"destination": group.pk}).content.decode()
    assert re.findall(r'<p class="message-text">([^<]+)</p>', filtered) == ["to the team"]
    assert "Show all messages" in filtered
    bobs = link(bob, BOB_CHAT)
    assert alice_web.get(MESSAGES, {"destination": bobs.pk}).status_code == 400


# -- demo mode: a simulated group and topic ----------------------------------------------


@pytest.fixture
def demo_mode(tg, settings, monkeypatch):
    settings.TELEGRAM_DEMO = True
    monkeypatch.setattr(demo, "REPLY_WAIT_SECONDS", 0)
    return tg


def test_outside_demo_mode_there_is_no_group_to_play(alice, alice_web):
    alice_web.post(ADD, {"label": ""})
    assert alice_web.post(DEMO_GROUP, {"kind": "group"}).status_code == 404
    assert "Simulated groups" not in alice_web.get(PAGE).content.decode()


def test_playing_needs_a_code_on_show(demo_mode, alice, alice_web):
    response = alice_web.post(DEMO_GROUP, {"kind": "group"}, follow=True)
    assert "Make a code first" in response.content.decode()
    assert not Destination.objects.exists()


def test_a_demo_user_links_a_group_and_a_topic_and_sees_messages_arrive(
    demo_mode, alice, alice_web, django_capture_on_commit_callbacks
):
    alice_web.post(ADD, {"label": ""})
    html = alice_web.get(PAGE).content.decode()
    assert "Play it: a new simulated group adds the bot" in html
    response = alice_web.post(DEMO_GROUP, {"kind": "group"})
    assert (response.status_code, response.url) == (303, f"{PAGE}#simulated-groups")
    poll_bot()
    group = Destination.objects.get(user=alice, kind="group")
    assert (group.label, group.title, group.is_default) == ("demo-group-1", "Demo group 1", True)

    alice_web.post(ADD, {"label": "alerts"})
    alice_web.post(DEMO_GROUP, {"kind": "topic"})
    poll_bot()
    topic = Destination.objects.get(user=alice, kind="topic")
    assert (topic.label, topic.title, topic.thread_id is not None) == ("alerts", "Demo forum 2 / Alerts", True)

    with django_capture_on_commit_callbacks(execute=True):
        alice_web.post(SEND, {"text": "into the topic", "to": topic.pk})
    assert Message.objects.get(user=alice).status == Message.Status.SENT
    played = alice_web.get(PAGE).context["demo_groups"]
    # The simulated group members have no language, so the bot answers in its first one, Russian.
    assert [(chat.title, chat.thread_id, [bubble.text for bubble in chat.bubbles]) for chat in played] == [
        ("Demo group 1", None, [text("ru", "linked_group", username="alice", label="demo-group-1")]),
        (
            "Demo forum 2 / Alerts",
            topic.thread_id,
            [text("ru", "linked_topic", username="alice", label="alerts"), f"{HEADER}into the topic"],
        ),
    ]
    assert "into the topic" in alice_web.get(PAGE).content.decode()
