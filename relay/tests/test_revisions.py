"""Edits and deletions of sent messages, checked where they count: at the simulated Telegram.

Each part of a split message is edited or deleted, through the destination's
queue, with the same order and retries as sending.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import ALICE_CHAT, make_due, run_sweep
from relay.content import text_parts
from relay.models import Revision
from relay.splitting import format_header
from relay.tests.helpers import MESSAGES_URL, get_message, message_url
from relaybot.client import get_bot

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = format_header("Alice")
BUTTON = {"text": "Open", "url": "https://x.example"}
LONG = "line\n" * 1500
FORTY_NINE_HOURS = 49 * 3600


def post(api, **body) -> dict:
    response = api.post(MESSAGES_URL, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def edit(api, message_id: int, text: str):
    return api.patch(message_url(message_id), {"text": text}, format="json")


def test_a_one_part_message_is_edited_in_the_chat_with_its_header(tg, alice_linked):
    sent = post(alice_linked, text="**Disk** at 91%", title="Backup", format="markdown")

    response = edit(alice_linked, sent["id"], "**Disk** at 40%")

    assert response.status_code == 202
    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["edited"] is True
    assert record["text"] == HEADER + "Backup\nDisk at 40%"
    assert record["entity_problems"] == []
    assert {entity["type"] for entity in record["entities"]} == {"bold"}
    message = get_message(alice_linked, sent["id"])
    assert (message["status"], message["text"], message["error"]) == ("sent", "**Disk** at 40%", "")


def test_every_part_of_a_split_message_is_edited_and_the_keyboard_stays_on_the_last(tg, alice_linked):
    sent = post(alice_linked, text=LONG, buttons=[BUTTON])
    new_text = "word\n" * 1400
    expected = [part for part, _ in text_parts(header=HEADER, shown=new_text, entities=[])]
    assert len(expected) == 2

    assert edit(alice_linked, sent["id"], new_text).status_code == 202

    records = tg.sent(chat_id=ALICE_CHAT)
    assert [record["edited"] for record in records] == [True, True]
    assert [record["text"] for record in records] == expected
    assert records[0]["text"].startswith(HEADER)
    assert "reply_markup" not in records[0]
    assert records[1]["reply_markup"]["inline_keyboard"] == [[BUTTON]]
    assert get_message(alice_linked, sent["id"])["text"] == new_text


def test_an_edit_needing_fewer_parts_deletes_the_rest(tg, alice_linked):
    sent = post(alice_linked, text=LONG, buttons=[BUTTON])

    assert edit(alice_linked, sent["id"], "short now").status_code == 202

    first, second = tg.sent(chat_id=ALICE_CHAT)
    assert first["text"] == HEADER + "short now"
    assert first["reply_markup"]["inline_keyboard"] == [[BUTTON]]
    assert second.get("deleted") is True
    assert tg.deleted(chat_id=ALICE_CHAT) == [{"chat_id": ALICE_CHAT, "message_id": second["message_id"]}]
    # A second edit finds one part to edit.
    assert edit(alice_linked, sent["id"], "shorter").status_code == 202
    assert tg.sent(chat_id=ALICE_CHAT)[0]["text"] == HEADER + "shorter"


def test_an_edit_needing_more_parts_is_refused(tg, alice_linked):
    sent = post(alice_linked, text="short")

    response = edit(alice_linked, sent["id"], "line\n" * 1500)

    assert response.status_code == 400
    assert "Telegram cannot add messages by editing" in response.json()["text"][0]
    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert "edited" not in record
    assert not Revision.objects.exists()


def test_only_a_sent_message_of_ones_own_can_be_edited(tg, alice_linked, bob_linked):
    scheduled = post(alice_linked, text="later", deliver_at=(timezone.now() + timedelta(hours=1)).isoformat())
    tg.add_fault(kind="too_long")
    failed = post(alice_linked, text="refused")
    sent = post(alice_linked, text="mine")

    queued = edit(alice_linked, scheduled["id"], "new")
    assert queued.status_code == 409
    assert queued.json()["code"] == "not_editable"
    assert "cancel it" in queued.json()["detail"]
    assert get_message(alice_linked, failed["id"])["status"] == "failed"
    assert edit(alice_linked, failed["id"], "new").status_code == 409
    assert edit(bob_linked, sent["id"], "new").status_code == 404
    assert [record.get("edited") for record in tg.sent(chat_id=ALICE_CHAT)] == [None]
    assert get_message(alice_linked, sent["id"])["text"] == "mine"


def test_a_sent_message_is_deleted_from_the_chat_every_part(tg, alice_linked, bob_linked):
    sent = post(alice_linked, text=LONG)
    assert bob_linked.delete(message_url(sent["id"])).status_code == 404

    response = alice_linked.delete(message_url(sent["id"]))

    assert response.status_code == 202
    records = tg.sent(chat_id=ALICE_CHAT)
    assert len(records) == 2
    assert [record.get("deleted") for record in records] == [True, True]
    message = get_message(alice_linked, sent["id"])
    assert (message["status"], message["error"]) == ("deleted", "")
    again = alice_linked.delete(message_url(sent["id"]))
    assert again.status_code == 409
    assert edit(alice_linked, sent["id"], "back").status_code == 409


def test_a_message_older_than_48_hours_cannot_be_deleted_and_says_so(tg, alice_linked):
    sent = post(alice_linked, text=LONG)
    for record in tg.sent(chat_id=ALICE_CHAT):
        tg.age_message(ALICE_CHAT, record["message_id"], FORTY_NINE_HOURS)

    assert alice_linked.delete(message_url(sent["id"])).status_code == 202

    message = get_message(alice_linked, sent["id"])
    assert message["status"] == "sent"
    assert message["error"] == "Telegram: message can't be deleted (older than 48 hours)"
    assert Revision.objects.get().status == Revision.Status.FAILED
    assert [record.get("deleted") for record in tg.sent(chat_id=ALICE_CHAT)] == [None, None]


def test_an_edit_of_a_message_deleted_in_the_chat_fails_with_a_clear_error(tg, alice_linked):
    sent = post(alice_linked, text="hello")
    (record,) = tg.sent(chat_id=ALICE_CHAT)
    # Gone from the chat some other way than through the API.
    get_bot().delete_message(ALICE_CHAT, record["message_id"])

    assert edit(alice_linked, sent["id"], "bye").status_code == 202

    message = get_message(alice_linked, sent["id"])
    assert (message["status"], message["text"]) == ("sent", "hello")
    assert message["error"] == "Telegram: message to edit not found (it was deleted from the chat)"
    assert Revision.objects.get().status == Revision.Status.FAILED


def test_a_server_error_on_edit_is_retried_with_backoff(tg, alice_linked, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100
    sent = post(alice_linked, text="hello")
    tg.add_fault(kind="500", method="editMessageText")

    before = timezone.now()
    assert edit(alice_linked, sent["id"], "bye").status_code == 202
    after = timezone.now()

    revision = Revision.objects.get()
    assert (revision.status, revision.attempts) == (Revision.Status.PENDING, 1)
    assert "500" in revision.error
    assert before + timedelta(seconds=50) <= revision.next_attempt_at <= after + timedelta(seconds=100)
    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert "edited" not in record
    assert get_message(alice_linked, sent["id"])["text"] == "hello"

    run_sweep()
    assert "edited" not in tg.sent(chat_id=ALICE_CHAT)[0]
    Revision.objects.update(next_attempt_at=timezone.now())
    make_due()
    run_sweep()

    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["text"] == HEADER + "bye"
    assert get_message(alice_linked, sent["id"])["text"] == "bye"
    assert Revision.objects.get().status == Revision.Status.DONE


def test_an_edit_waits_for_the_message_queued_before_it(tg, alice_linked, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100
    first = post(alice_linked, text="first")
    tg.add_fault(kind="500", times=2)
    second = post(alice_linked, text="second")
    assert get_message(alice_linked, second["id"])["status"] == "queued"

    assert edit(alice_linked, first["id"], "first, edited").status_code == 202
    make_due()
    run_sweep()

    # The second message failed again: the edit, asked for after it, still waits.
    assert get_message(alice_linked, second["id"])["status"] == "queued"
    assert [record["text"] for record in tg.sent(chat_id=ALICE_CHAT)] == [HEADER + "first"]
    assert Revision.objects.get().status == Revision.Status.PENDING

    make_due()
    run_sweep()

    first_record, second_record = tg.sent(chat_id=ALICE_CHAT)
    assert second_record["text"] == HEADER + "second"
    assert first_record["text"] == HEADER + "first, edited"
    assert get_message(alice_linked, first["id"])["text"] == "first, edited"


def test_an_edit_goes_before_messages_accepted_after_it(tg, alice_linked, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100
    first = post(alice_linked, text="first")
    tg.add_fault(kind="500", method="editMessageText")
    assert edit(alice_linked, first["id"], "first, edited").status_code == 202
    later = post(alice_linked, text="later")

    assert get_message(alice_linked, later["id"])["status"] == "queued"
    assert [record["text"] for record in tg.sent(chat_id=ALICE_CHAT)] == [HEADER + "first"]

    Revision.objects.update(next_attempt_at=timezone.now())
    make_due()
    run_sweep()

    assert [record["text"] for record in tg.sent(chat_id=ALICE_CHAT)] == [HEADER + "first, edited", HEADER + "later"]
