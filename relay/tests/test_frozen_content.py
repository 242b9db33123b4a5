"""What a message says, header included, is fixed when the API accepts it: a rename changes only later messages."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.services import change_name
from conftest import ALICE_CHAT, client_for, make_due, make_user, run_sweep
from relay.splitting import format_header, split_message
from relay.tests.helpers import delivered_text, get_message, post_text, texts
from relaybot.services import TelegramUser, link_private_chat

pytestmark = pytest.mark.django_db(transaction=True)

LONG_NAME = "N" * 150
# 4,064 characters of short words: two parts under the long name's header.
TEXT = "".join(f"w{number:04} " for number in range(700))[:4064]


@pytest.mark.parametrize(
    "new_name",
    [
        # Under this name the text would fit in one part: there is no second part to take.
        "a",
        # Under this one it would be cut elsewhere: words sent twice or never.
        "b" * 60,
    ],
    ids=["fewer-parts", "other-cut"],
)
def test_a_rename_between_the_parts_of_a_long_message_changes_none_of_it(tg, new_name):
    user = make_user("nadia", LONG_NAME)
    link_private_chat(user=user, who=TelegramUser(chat_id=ALICE_CHAT, first_name="Nadia"))
    api = client_for(user)
    assert len(split_message(LONG_NAME, TEXT)) == 2
    assert split_message(new_name, TEXT)[1:] != split_message(LONG_NAME, TEXT)[1:]
    # The first part goes through, the second meets a server error and waits for its retry.
    tg.add_fault(kind="slow", delay=0)
    tg.add_fault(kind="500")

    body = post_text(api, TEXT)
    assert len(tg.sent(chat_id=ALICE_CHAT)) == 1
    assert get_message(api, body["id"])["status"] == "queued"

    change_name(user=user, name=new_name)
    make_due()
    run_sweep()

    assert get_message(api, body["id"])["status"] == "sent"
    # Joined, the parts are the text exactly as accepted, under the name it was accepted with.
    assert "".join(texts(tg.sent(chat_id=ALICE_CHAT))) == format_header(LONG_NAME) + TEXT
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == split_message(LONG_NAME, TEXT)

    # A message accepted after the rename carries the new name.
    post_text(api, "later")
    assert texts(tg.sent(chat_id=ALICE_CHAT))[-1] == delivered_text(new_name, "later")


def test_messages_stored_before_headers_were_get_their_accounts_name(alice):
    executor = MigrationExecutor(connection)
    before, after = [("relay", "0002_idempotency_key")], [("relay", "0003_header_fixed_at_accept")]
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        chat = old_apps.get_model("telegram", "Chat").objects.create(user_id=alice.pk, chat_id=ALICE_CHAT)
        old_message = old_apps.get_model("relay", "Message")
        queued = old_message.objects.create(user_id=alice.pk, chat_id=chat.pk, text="accepted before")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)

    try:
        new_apps = executor.loader.project_state(after).apps
        assert new_apps.get_model("relay", "Message").objects.get(pk=queued.pk).header == format_header("Alice")
    finally:
        # The later migrations too, as the tests after this one expect.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
