"""`?q=` on GET /api/v1/messages/: one's own messages with every word, through the full-text index."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.settings import api_settings

from conftest import ALICE_CHAT, BOB_CHAT, link
from relay import search
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL

PAGE = api_settings.PAGE_SIZE
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICES = [
    "Deploy finished on web-1",
    "deploy FAILED on web-2",
    "Привет, это ПРОВЕРКА связи",
    "Ёлки-палки, проверка прошла",
    "backup at 03:00 (a.b) done",
    'She said "hello" AND left; NOT a deploy',
    "deployment of the new database",
]
BOBS = ["bob's deploy on web-1", "ПРОВЕРКА от Боба", "hello from bob"]


def store(user, texts: list[str], start: datetime = START, **fields) -> list[Message]:
    chat = link(user, ALICE_CHAT if user.username == "alice" else BOB_CHAT)
    return Message.objects.bulk_create(
        Message(user=user, destination=chat, text=text, created_at=start + timedelta(minutes=n), **fields)
        for n, text in enumerate(texts)
    )


@pytest.fixture
def history(alice, bob):
    store(bob, BOBS)
    mine = store(alice, ALICES)
    store(bob, BOBS, start=START + timedelta(days=1))
    return mine


def found(api, q: str, **query) -> list[str]:
    response = api.get(MESSAGES_URL, {"q": q, **query})
    assert response.status_code == 200, response.content
    return [item["text"] for item in response.json()["results"]]


def test_search_finds_every_word_in_any_letter_case_newest_first(history, alice_api):
    assert found(alice_api, "DEPLOY") == [ALICES[5], ALICES[1], ALICES[0]]
    assert found(alice_api, "deploy web") == [ALICES[1], ALICES[0]]
    assert found(alice_api, "web deploy failed") == [ALICES[1]]
    assert found(alice_api, "database") == [ALICES[6]]
    assert found(alice_api, "nothing like it") == []


def test_search_reads_russian_in_any_letter_case(history, alice_api):
    assert found(alice_api, "проверка") == [ALICES[3], ALICES[2]]
    assert found(alice_api, "ПРИВЕТ связи") == [ALICES[2]]
    assert found(alice_api, "Ёлки") == [ALICES[3]]


def test_words_match_whole_words(history, alice_api):
    assert found(alice_api, "deployment") == [ALICES[6]]
    assert found(alice_api, "deplo") == []
    assert found(alice_api, "провер") == []
    assert found(alice_api, "web 1") == [ALICES[0]]
    assert found(alice_api, "web-1") == [ALICES[0]]


def test_search_finds_only_ones_own_messages(history, alice, bob_api):
    assert found(bob_api, "deploy") == [BOBS[0], BOBS[0]]
    assert found(bob_api, "проверка") == [BOBS[1], BOBS[1]]
    assert found(bob_api, "database") == []
    # An account's token in the index is not a way into its rows.
    assert found(bob_api, f'owner : "u{alice.pk}"') == []
    assert found(bob_api, f"u{alice.pk}") == []


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '""',
        "'",
        "\\",
        'hello"',
        "'; DROP TABLE relay_message; --",
        "hello AND",
        "NOT hello",
        "hello OR bob",
        "NEAR(hello said)",
        "text : hello",
        "owner:u1",
        "hello*",
        "*",
        "-hello",
        "hello & !said | :*",
        "(hello",
        "^hello",
        "{text owner}: hello",
    ],
)
def test_quotes_and_operators_are_only_text(history, alice_api, q):
    # Each is read as its words (letters and digits); operators and quotes match nothing by themselves.
    results = found(alice_api, q)
    assert set(results) <= set(ALICES)


def test_operators_are_words_like_any_other(history, alice_api):
    assert found(alice_api, '"hello" AND') == [ALICES[5]]
    assert found(alice_api, "hello*") == [ALICES[5]]
    assert found(alice_api, "not deploy") == [ALICES[5]]
    assert found(alice_api, "hello OR bob") == []


@pytest.mark.parametrize("q", ["", "   ", "!!!", "…", "💥", "(a.b)"])
def test_a_search_with_no_words_or_only_short_ones(history, alice_api, q):
    results = found(alice_api, q)
    if q.strip():
        # Words of letters or digits only: punctuation alone finds nothing; "a b" finds what has both words.
        assert results == ([ALICES[4]] if q == "(a.b)" else [])
    else:
        # A blank search is no search.
        assert len(results) == len(ALICES)


def test_search_pages_follow_next_with_the_search_kept(alice, alice_api):
    rows = store(alice, [f"{'match' if n % 3 else 'other'} number {n}" for n in range(3 * PAGE)])
    matching = [row.pk for row in reversed(rows) if row.text.startswith("match")]

    seen, response = [], alice_api.get(MESSAGES_URL, {"q": "MATCH"})
    while True:
        body = response.json()
        seen += [item["id"] for item in body["results"]]
        if not body["next"]:
            break
        assert "q=MATCH" in body["next"]
        response = alice_api.get(body["next"])

    assert seen == matching


def test_search_with_status_and_dates(alice, alice_api):
    rows = store(alice, [f"report {n}" for n in range(40)])
    Message.objects.filter(pk__in=[row.pk for row in rows[::4]]).update(status="failed")

    failed = alice_api.get(MESSAGES_URL, {"q": "report", "status": "failed"}).json()["results"]
    after, before = rows[9].created_at.isoformat(), rows[20].created_at.isoformat()
    dated = alice_api.get(MESSAGES_URL, {"q": "report", "created_after": after, "created_before": before})
    dated = dated.json()["results"]

    assert [item["id"] for item in failed] == [row.pk for row in reversed(rows[::4])]
    assert [item["id"] for item in dated] == [row.pk for row in reversed(rows[10:20])]


def test_the_index_follows_deletions_and_new_texts(history, alice, alice_api):
    Message.objects.filter(user=alice, text=ALICES[0]).delete()
    Message.objects.filter(user=alice, text=ALICES[6]).update(text="renamed entirely")

    assert found(alice_api, "deploy") == [ALICES[5], ALICES[1]]
    assert found(alice_api, "renamed") == ["renamed entirely"]


def test_a_search_longer_than_allowed_is_400_naming_it(alice, alice_api):
    response = alice_api.get(MESSAGES_URL, {"q": "x" * 201})

    assert response.status_code == 400
    assert list(response.json()) == ["q"]
    assert alice_api.get(MESSAGES_URL, {"q": "x" * 200}).status_code == 200


def test_search_reads_past_the_newest_messages_too(alice, alice_api, monkeypatch):
    # PostgreSQL tests the newest messages one by one first, then asks the GIN index: both ways here.
    monkeypatch.setattr(search, "RECENT", 5)
    texts = [f"{'needle' if n in (1, 2, 9, 14, 20) else 'hay'} {n}" for n in range(30)]
    rows = store(alice, texts)

    results = alice_api.get(MESSAGES_URL, {"q": "needle"}).json()["results"]
    filtered = alice_api.get(MESSAGES_URL, {"q": "needle", "status": "queued", "before": rows[14].pk}).json()

    assert [item["id"] for item in results] == [rows[n].pk for n in (20, 14, 9, 2, 1)]
    assert [item["id"] for item in filtered["results"]] == [rows[n].pk for n in (9, 2, 1)]
