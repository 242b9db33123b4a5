"""The Django admin for operators: messages with their delivery, and the "Retry now" action."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from conftest import ALICE_CHAT, client_for, link
from relay.models import Message
from relay.splitting import format_header, split_message
from relay.tests.helpers import MESSAGES_URL
from relaybot import services as telegram_services
from relaybot.models import LinkCode

MESSAGES_ADMIN = "/admin/relay/message/"
# What enqueue_message puts on alice's messages.
HEADER = format_header("Alice")

pytestmark = pytest.mark.django_db(transaction=True)


def retry_now(admin_client, *messages: Message):
    response = admin_client.post(
        MESSAGES_ADMIN,
        {"action": "retry_now", "_selected_action": [message.pk for message in messages]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(notice) for notice in get_messages(response.wsgi_request)]


def failed_message(user, chat, text="Hello", **fields) -> Message:
    values = {"status": Message.Status.FAILED, "attempts": 12, "error": "Gave up after 12 attempts: 502: Bad Gateway"}
    return Message.objects.create(user=user, destination=chat, header=HEADER, text=text, **{**values, **fields})


@pytest.fixture
def chat(alice):
    return link(alice, ALICE_CHAT)


def test_retry_now_sends_a_failed_message_and_resets_its_delivery(tg, alice, chat, admin_client):
    message = failed_message(alice, chat)

    notices = retry_now(admin_client, message)

    assert notices == ["1 message(s) queued to be sent now."]
    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == split_message("Alice", "Hello")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 0
    assert message.error == ""
    assert message.sent_at is not None


def test_retry_now_reaches_a_chat_that_was_unblocked_and_it_takes_messages_again(tg, alice, chat, admin_client):
    tg.block(ALICE_CHAT)
    api = client_for(alice)
    failed = api.post(MESSAGES_URL, {"text": "while blocked"}, format="json").json()
    assert Message.objects.get(pk=failed["id"]).status == Message.Status.FAILED
    assert api.post(MESSAGES_URL, {"text": "refused"}, format="json").json()["code"] == "chat_unreachable"

    tg.unblock(ALICE_CHAT)
    retry_now(admin_client, Message.objects.get(pk=failed["id"]))

    assert Message.objects.get(pk=failed["id"]).status == Message.Status.SENT
    assert api.post(MESSAGES_URL, {"text": "after"}, format="json").status_code == 202
    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == [
        *split_message("Alice", "while blocked"),
        *split_message("Alice", "after"),
    ]


def test_retry_now_resumes_after_the_parts_already_delivered(tg, alice, chat, admin_client):
    text = "\n".join(f"line {number} " + "x" * 60 for number in range(150))
    parts = split_message("Alice", text)
    assert len(parts) == 3
    message = failed_message(alice, chat, text=text, parts_sent=1, telegram_message_ids=[77])

    retry_now(admin_client, message)

    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == parts[1:]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.parts_sent == 3
    assert message.telegram_message_ids[0] == 77
    assert len(message.telegram_message_ids) == 3


def test_retry_now_does_not_wait_out_a_queued_messages_backoff(tg, alice, chat, admin_client):
    waiting = Message.objects.create(
        user=alice,
        destination=chat,
        header=HEADER,
        text="Later",
        attempts=4,
        next_attempt_at=timezone.now() + timedelta(minutes=9),
    )

    notices = retry_now(admin_client, waiting)

    assert notices == ["1 message(s) queued to be sent now."]
    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == split_message("Alice", "Later")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (Message.Status.SENT, 0)


def test_retry_now_reports_a_message_whose_chat_was_unlinked(tg, alice, chat, admin_client):
    message = failed_message(alice, chat)
    telegram_services.unlink_chat(user=alice)
    message.refresh_from_db()
    assert message.destination is None

    notices = retry_now(admin_client, message)

    assert notices == ["1 message(s) cannot be retried: their chat was unlinked."]
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 12
    assert tg.sent() == []


def test_retry_now_leaves_a_sent_message_alone(tg, alice, chat, admin_client):
    sent = Message.objects.create(
        user=alice,
        destination=chat,
        header=HEADER,
        text="Done",
        status=Message.Status.SENT,
        parts_sent=1,
        sent_at=timezone.now(),
    )
    failed = failed_message(alice, chat, text="Again")

    notices = retry_now(admin_client, sent, failed)

    assert notices == ["1 message(s) queued to be sent now.", "1 message(s) were already sent; left alone."]
    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == split_message("Alice", "Again")
    sent.refresh_from_db()
    assert sent.parts_sent == 1


def test_retry_now_sends_a_chats_retried_messages_in_their_original_order(tg, alice, chat, admin_client):
    first = failed_message(alice, chat, text="first")
    second = failed_message(alice, chat, text="second")

    retry_now(admin_client, second, first)

    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == [
        *split_message("Alice", "first"),
        *split_message("Alice", "second"),
    ]


def test_retry_now_needs_the_change_permission(tg, alice, chat, client, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*_permissions("view_message"))
    client.force_login(viewer)
    message = failed_message(alice, chat)

    client.post(MESSAGES_ADMIN, {"action": "retry_now", "_selected_action": [message.pk]})

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert tg.sent() == []


def _permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename__in=codenames)


def test_message_list_filters_by_status_and_searches_user_and_text(alice, bob, chat, admin_client):
    failed_message(alice, chat, text="needle in a haystack")
    Message.objects.create(user=bob, text="something else", status=Message.Status.SENT)

    by_text = admin_client.get(MESSAGES_ADMIN, {"q": "needle"})
    by_user = admin_client.get(MESSAGES_ADMIN, {"q": "bob"})
    by_status = admin_client.get(MESSAGES_ADMIN, {"status__exact": "failed"})

    assert by_text.status_code == by_user.status_code == by_status.status_code == 200
    assert by_text.context["cl"].result_count == 1
    assert [message.user.username for message in by_user.context["cl"].result_list] == ["bob"]
    assert [message.status for message in by_status.context["cl"].result_list] == ["failed"]


def test_a_messages_delivery_record_is_read_only(alice, chat, admin_client):
    message = failed_message(alice, chat)

    page = admin_client.get(f"{MESSAGES_ADMIN}{message.pk}/change/")
    admin_client.post(f"{MESSAGES_ADMIN}{message.pk}/change/", {"status": "sent", "attempts": 0, "text": "edited"})

    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields) == set()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.text) == ("failed", 12, "Hello")
    assert admin_client.get(f"{MESSAGES_ADMIN}add/").status_code == 403


def test_destination_list_shows_destinations_and_finds_them_by_user_or_chat_id(alice, chat, admin_client):
    by_user = admin_client.get("/admin/relay/destination/", {"q": "alice"})
    by_chat_id = admin_client.get("/admin/relay/destination/", {"q": str(ALICE_CHAT)})

    assert by_user.status_code == by_chat_id.status_code == 200
    assert list(by_user.context["cl"].result_list) == [chat]
    assert list(by_chat_id.context["cl"].result_list) == [chat]


def test_link_codes_are_shown_read_only_without_their_hash(alice, admin_client):
    link_code, code = telegram_services.create_link_code(user=alice)

    listing = admin_client.get("/admin/telegram/linkcode/")
    page = admin_client.get(f"/admin/telegram/linkcode/{link_code.pk}/change/")
    admin_client.post(f"/admin/telegram/linkcode/{link_code.pk}/change/", {"kind": "verify"})

    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        assert link_code.code_hash not in response.content.decode()
        assert code not in response.content.decode()
    assert LinkCode.objects.get(pk=link_code.pk).kind == LinkCode.Kind.LINK
