"""Existing chats become destinations: a database made by the schema before destinations, migrated forward."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from conftest import ALICE_CHAT, BOB_CHAT, make_due, run_sweep
from relay.tests.helpers import post_text

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("relay", "0005_message_search"),
    ("telegram", "0003_chat_next_turn"),
    ("accounts", "0004_password_reset_token"),
]


def test_each_chat_becomes_its_accounts_default_private_destination_with_its_queue(alice, bob, alice_api, tg):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        Chat, Message = old.get_model("telegram", "Chat"), old.get_model("relay", "Message")
        paused = timezone.now() + timedelta(minutes=5)
        alice_chat = Chat.objects.create(
            user_id=alice.pk, chat_id=ALICE_CHAT, username="alice_tg", first_name="Alice", language_code="en"
        )
        bob_chat = Chat.objects.create(
            user_id=bob.pk, chat_id=BOB_CHAT, unreachable_reason="Forbidden: bot was blocked by the user",
            paused_until=paused,
        )  # fmt: skip
        header = "Alice, я получил от тебя сообщение:\n"
        sent = Message.objects.create(
            user_id=alice.pk, chat_id=alice_chat.pk, header=header, text="sent before", status="sent"
        )
        queued = [
            Message.objects.create(user_id=alice.pk, chat_id=alice_chat.pk, header=header, text=f"queued {n}")
            for n in range(3)
        ]
        bobs = Message.objects.create(user_id=bob.pk, chat_id=bob_chat.pk, header="Bob\n", text="bob's")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    from relay.models import Destination
    from relay.models import Message as NewMessage

    alices = Destination.objects.get(user=alice)
    assert (alices.kind, alices.label, alices.is_default, alices.chat_id) == ("private", "me", True, ALICE_CHAT)
    assert (alices.username, alices.title, alices.language_code) == ("alice_tg", "Alice", "en")
    bobs_destination = Destination.objects.get(user=bob)
    assert bobs_destination.unreachable_reason == "Forbidden: bot was blocked by the user"
    assert bobs_destination.paused_until == paused
    assert NewMessage.objects.get(pk=sent.pk).destination == alices
    assert NewMessage.objects.get(pk=bobs.pk).destination == bobs_destination

    # The queue goes on where it stood, in order, to the same chat; new ones follow it.
    post_text(alice_api, "after the upgrade")
    for _ in range(5):
        make_due()
        run_sweep()
    assert [m["text"] for m in tg.sent(chat_id=ALICE_CHAT)] == [header + f"queued {n}" for n in range(3)] + [
        header + "after the upgrade"
    ]
    assert {NewMessage.objects.get(pk=m.pk).status for m in queued} == {"sent"}
    # New destinations are numbered after the migrated ones (PostgreSQL's sequence was moved on).
    from conftest import link, make_user

    carol = make_user("carol", "Carol")
    assert link(carol, 555).pk > max(alices.pk, bobs_destination.pk)
