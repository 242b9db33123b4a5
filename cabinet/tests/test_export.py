"""Export: one's own messages as JSON and CSV, streamed, safe to open in a spreadsheet."""

import csv
import io
import json
from datetime import UTC, datetime

from django.test import Client
from django.urls import reverse

from relay.models import Message

PROFILE = reverse("cabinet:profile")
JSON_URL = reverse("cabinet:export-json")
CSV_URL = reverse("cabinet:export-csv")
ACCEPTED = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def store(user, text: str, **fields) -> Message:
    return Message.objects.create(user=user, text=text, created_at=ACCEPTED, updated_at=ACCEPTED, **fields)


def download(web: Client, url: str) -> tuple[object, str]:
    response = web.get(url)
    assert response.status_code == 200
    # Streamed: never built whole in memory.
    assert response.streaming
    return response, b"".join(response.streaming_content).decode("utf-8")


def test_the_profile_offers_both_downloads(alice_web):
    html = alice_web.get(PROFILE).content.decode()
    assert f'href="{JSON_URL}"' in html
    assert f'href="{CSV_URL}"' in html


def test_json_holds_only_ones_own_messages_oldest_first(alice, bob, alice_web):
    first = store(alice, "Привет 🚀\nsecond line", status=Message.Status.SENT, sent_at=ACCEPTED)
    second = store(alice, "failed one", status=Message.Status.FAILED, attempts=3, error="Forbidden: bot was blocked")
    store(bob, "bob's secret")

    response, body = download(alice_web, JSON_URL)
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="tg-relay-messages-')
    assert json.loads(body) == [
        {
            "id": first.pk,
            "created_at": "2026-03-01T12:30:00Z",
            "status": "sent",
            "sent_at": "2026-03-01T12:30:00Z",
            "attempts": 0,
            "error": "",
            "text": "Привет 🚀\nsecond line",
        },
        {
            "id": second.pk,
            "created_at": "2026-03-01T12:30:00Z",
            "status": "failed",
            "sent_at": None,
            "attempts": 3,
            "error": "Forbidden: bot was blocked",
            "text": "failed one",
        },
    ]
    assert "bob's secret" not in body


def test_json_with_no_messages_is_an_empty_list(alice_web):
    assert json.loads(download(alice_web, JSON_URL)[1]) == []


def test_csv_has_a_header_and_a_row_per_message(alice, bob, alice_web):
    store(alice, 'a "quoted", comma\nand a new line')
    store(bob, "bob's secret")

    response, body = download(alice_web, CSV_URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].endswith('.csv"')
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == ["id", "created_at", "status", "sent_at", "attempts", "error", "text"]
    assert rows[1][1:] == ["2026-03-01T12:30:00Z", "queued", "", "0", "", 'a "quoted", comma\nand a new line']
    assert len(rows) == 2


def test_csv_cells_that_would_run_as_formulas_are_quoted(alice, alice_web):
    for text in ('=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "plain = fine"):
        store(alice, text)
    store(alice, "x", status=Message.Status.FAILED, error="=cmd|' /C calc'!A0")

    rows = list(csv.reader(io.StringIO(download(alice_web, CSV_URL)[1].removeprefix("\ufeff"))))
    assert [row[6] for row in rows[1:]] == [
        "'=HYPERLINK(\"http://evil\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tTAB", "plain = fine", "x"
    ]  # fmt: skip
    assert rows[-1][5] == "'=cmd|' /C calc'!A0"


def test_json_keeps_the_text_exactly(alice, alice_web):
    store(alice, "=1+1")
    assert json.loads(download(alice_web, JSON_URL)[1])[0]["text"] == "=1+1"


def test_many_messages_come_in_several_chunks(alice, alice_web):
    Message.objects.bulk_create(
        Message(user=alice, text=f"message {number} " + "x" * 200, created_at=ACCEPTED, updated_at=ACCEPTED)
        for number in range(2500)
    )
    response = alice_web.get(JSON_URL)
    chunks = list(response.streaming_content)
    assert len(chunks) > 5
    assert max(len(chunk) for chunk in chunks) < 200_000
    rows = json.loads(b"".join(chunks))
    assert len(rows) == 2500
    assert [row["text"].split()[1] for row in rows[:3]] == ["0", "1", "2"]


def test_export_needs_a_login(db):
    for url in (JSON_URL, CSV_URL):
        response = Client().get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("cabinet:login"))
