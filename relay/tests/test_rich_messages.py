"""Rich messages through the native API: title, formatting as entities, silence, buttons, schedule, cancel, files.

Checked where it counts, at the simulated Telegram: entities it finds nothing
wrong with (`entity_problems == []`), never a parse_mode.
"""

import struct
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import ALICE_CHAT, make_due, run_sweep
from relay.drafts import Attachment, Draft
from relay.models import Attachment as StoredAttachment
from relay.models import Message
from relay.services import accept
from relay.splitting import format_header, utf16_len
from relay.tests.helpers import MESSAGES_URL, get_message, message_url

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = format_header("Alice")


def post(api, **body) -> dict:
    response = api.post(MESSAGES_URL, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def entity_text(record: dict, entity: dict) -> str:
    units = record["text"].encode("utf-16-le")
    return units[entity["offset"] * 2 : (entity["offset"] + entity["length"]) * 2].decode("utf-16-le")


def test_a_title_and_markdown_arrive_as_entities_under_the_header(tg, alice_linked):
    post(alice_linked, text="**Disk** at 91% on `web-1` 🚀 [graph](https://grafana.example/d/1)", title="Backup",
         format="markdown")  # fmt: skip

    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["text"] == HEADER + "Backup\nDisk at 91% on web-1 🚀 graph"
    assert "parse_mode" not in record
    assert record["entity_problems"] == []
    shown = {(entity["type"], entity_text(record, entity), entity.get("url")) for entity in record["entities"]}
    assert shown == {
        ("bold", "Backup", None),
        ("bold", "Disk", None),
        ("code", "web-1", None),
        ("text_link", "graph", "https://grafana.example/d/1"),
    }


def test_html_that_telegram_could_not_parse_still_arrives(tg, alice_linked):
    post(alice_linked, text="<b>unclosed <i>tags & a < sign", format="html")

    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["text"] == HEADER + "unclosed tags & a < sign"
    assert record["entity_problems"] == []


def test_plain_text_stays_exactly_as_sent_with_no_entities(tg, alice_linked):
    post(alice_linked, text="  *not bold* <b>not html</b>  ")

    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["text"] == HEADER + "  *not bold* <b>not html</b>  "
    assert "entities" not in record


def test_silent_click_and_buttons(tg, alice_linked):
    post(alice_linked, text="Deployed", silent=True, click="https://ci.example/run/7",
         buttons=[{"text": "Logs", "url": "https://ci.example/run/7/logs"}])  # fmt: skip

    (record,) = tg.sent(chat_id=ALICE_CHAT)
    assert record["disable_notification"] is True
    assert record["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Logs", "url": "https://ci.example/run/7/logs"}],
            [{"text": "Open ↗", "url": "https://ci.example/run/7"}],
        ]
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("click", "javascript:alert(1)"),
        ("click", "http://"),
        ("buttons", [{"text": "x", "url": "ftp://files.example"}]),
        ("buttons", [{"text": "", "url": "https://x.example"}]),
        ("buttons", [{"text": str(n), "url": "https://x.example"} for n in range(9)]),
        ("format", "bbcode"),
    ],
)
def test_a_bad_rich_field_is_400_naming_it(tg, alice_linked, field, value):
    response = alice_linked.post(MESSAGES_URL, {"text": "hi", field: value}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert tg.sent() == []


def test_buttons_go_on_the_last_part_of_a_long_message(tg, alice_linked):
    post(alice_linked, text="line\n" * 1500, buttons=[{"text": "Open", "url": "https://x.example"}])

    records = tg.sent(chat_id=ALICE_CHAT)
    assert len(records) == 2
    assert "reply_markup" not in records[0]
    assert records[1]["reply_markup"]["inline_keyboard"] == [[{"text": "Open", "url": "https://x.example"}]]


def test_a_long_formatted_message_keeps_every_entity_valid_in_its_part(tg, alice_linked):
    text = "\n".join(f"**{n}** `code {n}` 🚀 " + "word " * 20 for n in range(60))
    post(alice_linked, text=text, format="markdown")
    make_due()
    run_sweep()

    records = tg.sent(chat_id=ALICE_CHAT)
    assert len(records) > 1
    for record in records:
        assert utf16_len(record["text"]) <= 4096
        assert record["entity_problems"] == []
    assert sum(1 for r in records for e in r["entities"] if e["type"] == "code") == 60


def test_a_scheduled_message_waits_and_holds_back_none_behind_it(tg, alice_linked):
    later = timezone.now() + timedelta(hours=1)
    scheduled = post(alice_linked, text="later", deliver_at=later.isoformat())
    post(alice_linked, text="now")

    assert [r["text"] for r in tg.sent(chat_id=ALICE_CHAT)] == [HEADER + "now"]
    assert get_message(alice_linked, scheduled["id"])["status"] == "queued"

    Message.objects.filter(pk=scheduled["id"]).update(deliver_at=timezone.now(), next_attempt_at=timezone.now())
    make_due()
    run_sweep()
    assert [r["text"] for r in tg.sent(chat_id=ALICE_CHAT)] == [HEADER + "now", HEADER + "later"]


def test_a_queued_message_is_cancelled_and_never_sent(tg, alice_linked):
    scheduled = post(alice_linked, text="never", deliver_at=(timezone.now() + timedelta(hours=1)).isoformat())

    cancelled = alice_linked.delete(message_url(scheduled["id"]))

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    Message.objects.filter(pk=scheduled["id"]).update(deliver_at=timezone.now(), next_attempt_at=timezone.now())
    make_due()
    run_sweep()
    assert tg.sent(chat_id=ALICE_CHAT) == []
    again = alice_linked.delete(message_url(scheduled["id"]))
    assert again.status_code == 409
    assert again.json()["code"] == "not_cancellable"


def test_a_sent_message_is_deleted_rather_than_cancelled_and_anothers_is_not_found(tg, alice_linked, bob_linked):
    sent = post(alice_linked, text="gone")

    assert bob_linked.delete(message_url(sent["id"])).status_code == 404
    assert alice_linked.delete(message_url(sent["id"])).status_code == 202
    assert get_message(alice_linked, sent["id"])["status"] == "deleted"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "content_type", "data", "method"),
    [
        ("report.pdf", "application/pdf", b"%PDF-1.4 report", "sendDocument"),
        ("graph.png", "image/png", png(640, 480), "sendPhoto"),
    ],
)
def test_a_file_goes_after_the_text_and_is_dropped_once_sent(tg, alice, alice_linked, name, content_type, data, method):
    message = accept(user=alice, draft=Draft(text="Nightly report", attachment=Attachment(name, content_type, data)))
    make_due()
    run_sweep()

    text, upload = tg.sent(chat_id=ALICE_CHAT)
    assert text["text"] == HEADER + "Nightly report"
    assert (upload["method"], upload["file_name"], upload["file_size"]) == (method, name, len(data))
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.telegram_message_ids == [text["message_id"], upload["message_id"]]
    assert not StoredAttachment.objects.filter(message=message).exists()


def test_a_scheduled_message_whose_attempt_is_due_early_neither_goes_nor_holds_a_worker(tg, alice_linked):
    # An operator's retry (or a clock stepped forward) makes its next attempt due before its moment.
    scheduled = post(alice_linked, text="later", deliver_at=(timezone.now() + timedelta(hours=1)).isoformat())
    Message.objects.filter(pk=scheduled["id"]).update(next_attempt_at=timezone.now())

    make_due()
    run_sweep()

    assert tg.sent(chat_id=ALICE_CHAT) == []
    assert get_message(alice_linked, scheduled["id"])["status"] == "queued"
