"""Entities, inline keyboards and file uploads in the simulated Telegram, over real HTTP."""

import hashlib
import json
import struct
import zlib
from collections.abc import Iterator

import httpx
import pytest

from fakegram.server import BLOCKED, MAX_DOCUMENT_SIZE, MAX_PHOTO_SIZE, FakeTelegram
from fakegram.tests.test_server import TOKEN, bot, control, error, send

CHAT = 42
OWNER = 7


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as client:
        yield client


def upload(
    http: httpx.Client,
    tg: FakeTelegram,
    method: str,
    field: str,
    name: str,
    data: bytes,
    content_type: str,
    **fields,
) -> httpx.Response:
    """A multipart/form-data upload, the way a Bot API client sends a file."""
    form = {key: value if isinstance(value, str) else json.dumps(value) for key, value in fields.items()}
    form.setdefault("chat_id", str(CHAT))
    return http.post(bot(tg, method), data=form, files={field: (name, data, content_type)})


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + frame + b"\xff\xd9"


def webp(width: int, height: int) -> bytes:
    extended = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4
    extended += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(extended)) + b"WEBP" + extended


def forum_topic(tg: FakeTelegram) -> tuple[int, int]:
    forum = tg.create_group("Team", forum=True, members={OWNER: "creator"})
    tg.add_bot_to_group(forum, by=OWNER)
    return forum, tg.create_topic(forum, "Reports")


# -- entities ----------------------------------------------------------------------


def test_entities_are_accepted_shown_and_recorded(tg, http):
    text = "Deploy 🚀 done, see log"
    entities = [
        {"type": "bold", "offset": 0, "length": 6},
        {"type": "italic", "offset": 7, "length": 2},
        {"type": "text_link", "offset": 20, "length": 3, "url": "https://example.com/log"},
        {"type": "pre", "offset": 11, "length": 4, "language": "text"},
    ]

    response = send(http, tg, text=text, entities=entities)

    assert response.status_code == 200, response.text
    message = response.json()["result"]
    assert message["text"] == text
    assert message["entities"] == entities
    record = tg.sent()[0]
    assert record == {
        "chat_id": CHAT,
        "message_id": message["message_id"],
        "text": text,
        "date": message["date"],
        "entities": entities,
        "entity_problems": [],
    }


def test_entities_in_a_form_field_are_read_as_json(tg, http):
    entities = [{"type": "underline", "offset": "0", "length": 2}]

    response = http.post(bot(tg, "sendMessage"), data={"chat_id": CHAT, "text": "hi", "entities": json.dumps(entities)})

    assert response.json()["result"]["entities"] == [{"type": "underline", "offset": 0, "length": 2}]
    assert tg.sent()[0]["entities"] == entities


@pytest.mark.parametrize(
    ("entities", "description"),
    [
        ({"type": "bold", "offset": 0, "length": 1}, "Bad Request: expected an Array of MessageEntity"),
        ("[{", "Bad Request: can't parse entities JSON object"),
        (["bold"], "Bad Request: can't parse MessageEntity: expected an Object"),
        (
            [{"type": "blink", "offset": 0, "length": 1}],
            "Bad Request: can't parse MessageEntity: Unsupported type specified",
        ),
        ([{"type": "", "offset": 0, "length": 1}], "Bad Request: can't parse MessageEntity: Type is not specified"),
        ([{"type": "bold", "length": 1}], "Bad Request: can't parse MessageEntity: Can't find field \"offset\""),
        (
            [{"type": "bold", "offset": True, "length": 1}],
            'Bad Request: can\'t parse MessageEntity: Field "offset" must be a Number',
        ),
        (
            [{"type": "bold", "offset": 0, "length": 1.5}],
            'Bad Request: can\'t parse MessageEntity: Field "length" must be a valid Number',
        ),
        ([{"type": "bold", "offset": -1, "length": 1}], "Bad Request: receive an entity with incorrect offset -1"),
        ([{"type": "bold", "offset": 0, "length": -2}], "Bad Request: receive an entity with incorrect length -2"),
        (
            [{"type": "bold", "offset": 6, "length": 1}],
            "Bad Request: entity begins after the end of the text at UTF-16 offset 6",
        ),
        (
            [{"type": "bold", "offset": 1, "length": 5}],
            "Bad Request: entity beginning at UTF-16 offset 1 ends after the end of the text at UTF-16 offset 6",
        ),
        (
            [{"type": "text_link", "offset": 0, "length": 5}],
            "Bad Request: can't parse MessageEntity: Can't find field \"url\"",
        ),
        (
            [{"type": "text_link", "offset": 0, "length": 5, "url": "not-a-url"}],
            "Bad Request: entity URL 'not-a-url' is invalid: Wrong HTTP URL",
        ),
        (
            [{"type": "text_link", "offset": 0, "length": 5, "url": "ftp://example.com"}],
            "Bad Request: entity URL 'ftp://example.com' is invalid: Unsupported URL protocol",
        ),
        (
            [{"type": "text_link", "offset": 0, "length": 5, "url": ""}],
            "Bad Request: entity URL '' is invalid: URL host is empty",
        ),
    ],
)
def test_invalid_entities_are_refused_as_telegram_refuses_them(tg, http, entities, description):
    response = send(http, tg, text="hello", entities=entities)

    assert response.status_code == 400
    assert response.json() == error(400, description)
    assert tg.sent() == []


def test_entity_offsets_count_utf16_units(tg, http):
    # The rocket is one code point but two UTF-16 units: the text is 5 units long.
    whole = send(http, tg, text="🚀 go", entities=[{"type": "bold", "offset": 0, "length": 5}])
    word = send(http, tg, text="🚀 go", entities=[{"type": "bold", "offset": 3, "length": 2}])
    past = send(http, tg, text="🚀 go", entities=[{"type": "bold", "offset": 0, "length": 6}])
    halved = send(http, tg, text="🚀 go", entities=[{"type": "bold", "offset": 1, "length": 2}])

    assert whole.status_code == word.status_code == halved.status_code == 200
    assert past.json() == error(
        400, "Bad Request: entity beginning at UTF-16 offset 0 ends after the end of the text at UTF-16 offset 6"
    )
    assert [record["entity_problems"] for record in tg.sent()] == [
        [],
        [],
        ["bold [1, 3) begins inside a surrogate pair"],
    ]


def test_partial_overlaps_and_entities_inside_code_are_recorded(tg, http):
    entities = [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 2, "length": 4},
        {"type": "code", "offset": 6, "length": 4},
        {"type": "underline", "offset": 7, "length": 1},
        {"type": "strikethrough", "offset": 0, "length": 10},
    ]

    response = send(http, tg, text="abcdefghij", entities=entities)

    assert response.status_code == 200
    assert tg.sent()[0]["entity_problems"] == [
        "bold [0, 4) partly overlaps italic [2, 6)",
        "underline [7, 8) is inside code [6, 10)",
    ]


def test_nesting_without_overlap_has_no_problems(tg, http):
    entities = [
        {"type": "blockquote", "offset": 0, "length": 10},
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 1, "length": 2},
        {"type": "bold", "offset": 6, "length": 4},
        {"type": "code", "offset": 6, "length": 4},
        {"type": "spoiler", "offset": 4, "length": 0},
    ]

    send(http, tg, text="abcdefghij", entities=entities)

    assert tg.sent()[0]["entity_problems"] == []


def test_detected_entity_types_are_accepted_and_dropped(tg, http):
    response = send(http, tg, text="/start now", entities=[{"type": "bot_command", "offset": 0, "length": 99}])

    assert response.status_code == 200
    assert "entities" not in response.json()["result"]


def test_entities_are_ignored_when_parse_mode_is_set(tg, http):
    entities = [{"type": "bold", "offset": 0, "length": 99}]

    response = send(http, tg, text="<i>hi</i>", parse_mode="HTML", entities=entities)

    assert response.status_code == 200
    assert response.json()["result"]["text"] == "hi"
    assert "entities" not in response.json()["result"]
    record = tg.sent()[0]
    assert (record["parse_mode"], record["entities"]) == ("HTML", entities)
    assert record["entity_problems"] == ["entities are ignored because parse_mode is set"]


def test_text_with_entities_is_limited_like_any_text(tg, http):
    entities = [{"type": "bold", "offset": 0, "length": 4}]

    at_limit = send(http, tg, text="x" * 4096, entities=entities)
    over = send(http, tg, text="x" * 4097, entities=entities)

    assert at_limit.status_code == 200
    assert over.json() == error(400, "Bad Request: message is too long")


# -- inline keyboards --------------------------------------------------------------


def test_an_inline_keyboard_is_recorded_and_shown(tg, http):
    markup = {
        "inline_keyboard": [
            [{"text": "Open", "url": "https://example.com/a?b=c"}, {"text": "App", "url": "tg://resolve?domain=x"}],
            [{"text": "Ack", "callback_data": "é" * 32}],
        ]
    }

    response = send(http, tg, text="alert", reply_markup=markup)

    assert response.status_code == 200, response.text
    assert response.json()["result"]["reply_markup"] == markup
    assert tg.sent()[0]["reply_markup"] == markup


def test_an_inline_keyboard_in_a_form_field_is_read_as_json(tg, http):
    markup = {"inline_keyboard": [[{"text": "Open", "url": "http://localhost:8000/x"}]]}

    response = http.post(
        bot(tg, "sendMessage"), data={"chat_id": CHAT, "text": "hi", "reply_markup": json.dumps(markup)}
    )

    assert response.json()["result"]["reply_markup"] == markup
    assert tg.sent()[0]["reply_markup"] == markup


def test_a_message_without_markup_has_none(tg, http):
    response = send(http, tg, text="plain")

    assert "reply_markup" not in response.json()["result"]
    assert "reply_markup" not in tg.sent()[0]


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        ("{", "Bad Request: can't parse reply keyboard markup JSON object"),
        ([], "Bad Request: object expected as reply markup"),
        ({"inline_keyboard": {}}, 'Bad Request: field "inline_keyboard" must be of type Array'),
        (
            {"inline_keyboard": [{"text": "a", "url": "https://example.com"}]},
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays',
        ),
        (
            {"inline_keyboard": [["Open"]]},
            "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Object",
        ),
        (
            {"inline_keyboard": [[{"url": "https://example.com"}]]},
            "Bad Request: can't parse inline keyboard button: Can't find field \"text\"",
        ),
        (
            {"inline_keyboard": [[{"text": "a", "callback_data": 5}]]},
            'Bad Request: can\'t parse inline keyboard button: Field "callback_data" must be of type String',
        ),
        (
            {"inline_keyboard": [[{"text": "a"}]]},
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"inline_keyboard": [[{"text": "a", "callback_data": ""}]]},
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"inline_keyboard": [[{"text": "a", "url": "https://example.com", "callback_data": "x"}]]},
            "Bad Request: can't parse inline keyboard button: a button has either url or callback_data, not both",
        ),
        ({"inline_keyboard": [[{"text": " ", "callback_data": "x"}]]}, "Bad Request: BUTTON_TEXT_INVALID"),
        ({"inline_keyboard": [[{"text": "a", "callback_data": "é" * 33}]]}, "Bad Request: BUTTON_DATA_INVALID"),
        (
            {"inline_keyboard": [[{"text": "a", "url": "ftp://example.com"}]]},
            "Bad Request: inline keyboard button URL 'ftp://example.com' is invalid: Unsupported URL protocol",
        ),
        (
            {"inline_keyboard": [[{"text": "a", "url": "example.com"}]]},
            "Bad Request: inline keyboard button URL 'example.com' is invalid: Wrong HTTP URL",
        ),
        (
            {"inline_keyboard": [[{"text": "a", "url": "https://"}]]},
            "Bad Request: inline keyboard button URL 'https://' is invalid: URL host is empty",
        ),
    ],
)
def test_invalid_inline_keyboards_are_refused(tg, http, markup, description):
    response = send(http, tg, text="alert", reply_markup=markup)

    assert response.status_code == 400
    assert response.json() == error(400, description)
    assert tg.sent() == []


# -- files -------------------------------------------------------------------------


def test_send_document_uploads_into_a_topic_with_caption_and_keyboard(tg, http):
    forum, thread = forum_topic(tg)
    data = b"%PDF-1.4\n" + bytes(range(256)) * 10
    caption_entities = [{"type": "bold", "offset": 0, "length": 6}]
    markup = {"inline_keyboard": [[{"text": "Open", "url": "https://example.com/r"}]]}

    response = upload(
        http,
        tg,
        "sendDocument",
        "document",
        "отчёт.pdf",
        data,
        "application/pdf",
        chat_id=str(forum),
        caption="Weekly report",
        caption_entities=caption_entities,
        message_thread_id=str(thread),
        disable_notification="true",
        reply_markup=markup,
    )

    assert response.status_code == 200, response.text
    message = response.json()["result"]
    document = message["document"]
    assert {key: document[key] for key in ("file_name", "mime_type", "file_size")} == {
        "file_name": "отчёт.pdf",
        "mime_type": "application/pdf",
        "file_size": len(data),
    }
    assert document["file_id"] and document["file_unique_id"]
    assert (message["caption"], message["caption_entities"]) == ("Weekly report", caption_entities)
    assert (message["message_thread_id"], message["is_topic_message"]) == (thread, True)
    assert message["reply_markup"] == markup
    assert "text" not in message
    assert tg.sent() == [
        {
            "chat_id": forum,
            "message_id": message["message_id"],
            "method": "sendDocument",
            "file_name": "отчёт.pdf",
            "file_size": len(data),
            "mime_type": "application/pdf",
            "sha256": hashlib.sha256(data).hexdigest(),
            "date": message["date"],
            "caption": "Weekly report",
            "caption_entities": caption_entities,
            "entity_problems": [],
            "reply_markup": markup,
            "message_thread_id": thread,
            "disable_notification": True,
        }
    ]


def test_send_document_records_only_what_was_given(tg, http):
    response = upload(http, tg, "sendDocument", "document", "notes", b"plain notes", "text/plain")

    message = response.json()["result"]
    assert message["document"]["mime_type"] == "application/octet-stream"
    assert tg.sent() == [
        {
            "chat_id": CHAT,
            "message_id": message["message_id"],
            "method": "sendDocument",
            "file_name": "notes",
            "file_size": 11,
            "mime_type": "text/plain",
            "sha256": hashlib.sha256(b"plain notes").hexdigest(),
            "date": message["date"],
        }
    ]


def test_send_photo_uploads_with_caption_into_a_topic(tg, http):
    forum, thread = forum_topic(tg)
    image = png(400, 300)

    response = upload(
        http,
        tg,
        "sendPhoto",
        "photo",
        "chart.png",
        image,
        "image/png",
        chat_id=str(forum),
        caption="<b>Load</b> today",
        parse_mode="HTML",
        message_thread_id=str(thread),
    )

    assert response.status_code == 200, response.text
    message = response.json()["result"]
    sizes = [(size["width"], size["height"]) for size in message["photo"]]
    assert sizes == [(90, 68), (320, 240), (400, 300)]
    assert message["photo"][-1]["file_size"] == len(image)
    assert all(size["file_id"] and size["file_unique_id"] for size in message["photo"])
    assert message["caption"] == "Load today"
    assert message["message_thread_id"] == thread
    assert tg.sent() == [
        {
            "chat_id": forum,
            "message_id": message["message_id"],
            "method": "sendPhoto",
            "file_name": "chart.png",
            "file_size": len(image),
            "mime_type": "image/png",
            "sha256": hashlib.sha256(image).hexdigest(),
            "date": message["date"],
            "caption": "<b>Load</b> today",
            "parse_mode": "HTML",
            "message_thread_id": thread,
        }
    ]


@pytest.mark.parametrize("image", [jpeg(640, 480), webp(640, 480), png(640, 480)])
def test_jpeg_webp_and_png_photos_are_recognised(tg, http, image):
    response = upload(http, tg, "sendPhoto", "photo", "shot", image, "image/jpeg")

    assert response.status_code == 200, response.text
    assert (response.json()["result"]["photo"][-1]["width"], response.json()["result"]["photo"][-1]["height"]) == (
        640,
        480,
    )


@pytest.mark.parametrize(
    "data",
    [b"GIF89a not a supported photo", b"%PDF-1.4 declared as an image", b"\x89PNG\r\n\x1a\n header cut short"],
)
def test_a_photo_that_is_no_image_fails_to_process(tg, http, data):
    response = upload(http, tg, "sendPhoto", "photo", "fake.png", data, "image/png")

    assert response.json() == error(400, "Bad Request: IMAGE_PROCESS_FAILED")
    assert tg.sent() == []


def test_a_photo_out_of_proportion_is_refused(tg, http):
    too_wide = upload(http, tg, "sendPhoto", "photo", "strip.png", png(2100, 100), "image/png")
    too_big = upload(http, tg, "sendPhoto", "photo", "huge.png", png(6000, 5000), "image/png")

    assert too_wide.json() == too_big.json() == error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")


def test_photos_are_limited_to_ten_megabytes(tg, http):
    image = png(800, 600)
    at_limit = image + b"\0" * (MAX_PHOTO_SIZE - len(image))

    accepted = upload(http, tg, "sendPhoto", "photo", "big.png", at_limit, "image/png")
    refused = upload(http, tg, "sendPhoto", "photo", "big.png", at_limit + b"\0", "image/png")

    assert accepted.status_code == 200
    assert refused.json() == error(
        400, "Bad Request: file of size 10485761 bytes is too big for a photo; the maximum size is 10485760 bytes"
    )
    assert len(tg.sent()) == 1


def test_uploads_over_fifty_megabytes_are_too_large(tg, http):
    response = upload(http, tg, "sendDocument", "document", "dump.bin", b"\0" * (MAX_DOCUMENT_SIZE + 1), "x/y")

    assert response.status_code == 413
    assert response.json() == error(413, "Request Entity Too Large")
    assert tg.sent() == []


def test_captions_are_limited_to_1024_characters_after_parsing(tg, http):
    markup = "<b>" + "x" * 1024 + "</b>"

    parsed = upload(
        http, tg, "sendDocument", "document", "a.txt", b"a", "text/plain", caption=markup, parse_mode="HTML"
    )
    too_long = upload(http, tg, "sendDocument", "document", "a.txt", b"a", "text/plain", caption="x" * 1025)

    assert parsed.status_code == 200
    assert too_long.json() == error(400, "Bad Request: message caption is too long")


def test_caption_entities_are_checked_like_entities(tg, http):
    entities = [{"type": "bold", "offset": 0, "length": 9}]

    response = upload(
        http, tg, "sendDocument", "document", "a.txt", b"a", "text/plain", caption="short", caption_entities=entities
    )

    assert response.json() == error(
        400, "Bad Request: entity beginning at UTF-16 offset 0 ends after the end of the text at UTF-16 offset 9"
    )


def test_a_file_must_be_uploaded_and_not_empty(tg, http):
    missing = http.post(bot(tg, "sendDocument"), data={"chat_id": str(CHAT), "caption": "where?"})
    by_id = http.post(bot(tg, "sendPhoto"), json={"chat_id": CHAT, "photo": "AgACAgIAAxkBAAI"})
    empty = upload(http, tg, "sendDocument", "document", "empty.txt", b"", "text/plain")

    assert missing.json() == error(400, "Bad Request: there is no document in the request")
    assert by_id.json() == error(400, "Bad Request: wrong file identifier/HTTP URL specified")
    assert empty.json() == error(400, "Bad Request: file must be non-empty")


def test_a_blocked_chat_refuses_documents(tg, http):
    tg.block(CHAT)

    response = upload(http, tg, "sendDocument", "document", "a.txt", b"a", "text/plain")

    assert response.status_code == 403
    assert response.json() == error(403, BLOCKED)
    assert tg.sent() == []


def test_a_closed_topic_refuses_photos(tg, http):
    forum, thread = forum_topic(tg)
    tg.close_topic(forum, thread)

    response = upload(
        http,
        tg,
        "sendPhoto",
        "photo",
        "a.png",
        png(10, 10),
        "image/png",
        chat_id=str(forum),
        message_thread_id=str(thread),
    )

    assert response.json() == error(400, "Bad Request: TOPIC_CLOSED")


def test_files_are_listed_with_texts_in_send_order(tg, http):
    send(http, tg, text="first")
    upload(http, tg, "sendDocument", "document", "a.txt", b"a", "text/plain")
    upload(http, tg, "sendPhoto", "photo", "a.png", png(10, 10), "image/png")

    listed = http.get(control(tg, "sent")).json()["messages"]
    waited = http.get(control(tg, "wait_sent"), params={"count": 3, "timeout": 1}).json()

    assert [record.get("method") for record in listed] == [None, "sendDocument", "sendPhoto"]
    assert [record["message_id"] for record in listed] == [1, 2, 3]
    assert waited == {"messages": listed, "complete": True}
    assert tg.wait_sent(3, timeout=1) == tg.sent() == listed


def test_a_sent_document_can_be_deleted(tg, http):
    message = upload(http, tg, "sendDocument", "document", "a.txt", b"a", "text/plain").json()["result"]

    response = http.post(bot(tg, "deleteMessage"), json={"chat_id": CHAT, "message_id": message["message_id"]})

    assert response.json() == {"ok": True, "result": True}
    assert tg.sent()[0]["deleted"] is True
