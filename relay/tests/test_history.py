"""GET /api/v1/messages/ at any history size: keyset pages by id, filters, and the paging contract."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework.settings import api_settings

from conftest import ALICE_CHAT, BOB_CHAT, link
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL, post_text

PAGE = api_settings.PAGE_SIZE
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUSES = ["queued", "sent", "failed"]


def add_history(user, count: int, text: str = "message {n}") -> list[Message]:
    """Rows straight in the table, oldest first, a minute apart, statuses in turn."""
    chat = link(user, ALICE_CHAT if user.username == "alice" else BOB_CHAT)
    return Message.objects.bulk_create(
        Message(
            user=user,
            destination=chat,
            text=text.format(n=n),
            status=STATUSES[n % 3],
            created_at=START + timedelta(minutes=n),
        )
        for n in range(count)
    )


def walk(api, url: str = MESSAGES_URL, query: dict | None = None, between=None) -> list[dict]:
    """Every page from `url`, following `next`; `between` runs after each page."""
    seen, response = [], api.get(url, query)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "results"}
        assert len(body["results"]) <= PAGE
        seen += body["results"]
        if body["next"] is None:
            return seen
        assert body["results"], "a page that says more follow is not empty"
        if between:
            between()
        response = api.get(body["next"])


def ids(items: list[dict]) -> list[int]:
    return [item["id"] for item in items]


@pytest.mark.django_db(transaction=True)
def test_walking_next_while_messages_arrive_never_skips_or_repeats_one(tg, alice, alice_api):
    rows = add_history(alice, 2 * PAGE + 7)
    arrived = []

    def three_more_arrive():
        arrived.extend(post_text(alice_api, f"new {len(arrived) + n}")["id"] for n in range(3))

    seen = walk(alice_api, between=three_more_arrive)

    assert len(arrived) == 6
    # Every message there was when the walk began, once each, newest first.
    assert ids(seen) == [row.pk for row in reversed(rows)]
    # The ones that arrived meanwhile lead a fresh walk.
    assert ids(walk(alice_api))[:6] == arrived[::-1]


def test_a_page_has_a_next_link_until_the_last(alice, alice_api):
    rows = add_history(alice, 2 * PAGE)

    first = alice_api.get(MESSAGES_URL).json()
    second = alice_api.get(first["next"]).json()

    assert ids(first["results"]) == [row.pk for row in reversed(rows[PAGE:])]
    assert ids(second["results"]) == [row.pk for row in reversed(rows[:PAGE])]
    # Exactly two pages' worth: the second is the last, with no empty third behind it.
    assert second["next"] is None
    assert first["next"].startswith("http://testserver/api/v1/messages/?")


@pytest.mark.parametrize("status", STATUSES)
def test_the_status_filter_over_several_pages_keeps_itself(alice, bob, alice_api, status):
    rows = add_history(alice, 3 * PAGE + 5)
    add_history(bob, 9)

    seen = walk(alice_api, query={"status": status})

    assert ids(seen) == [row.pk for row in reversed(rows) if row.status == status]


def test_the_date_filters_are_exclusive_bounds_in_any_offset(alice, alice_api):
    rows = add_history(alice, 2 * PAGE)
    after, before = rows[10].created_at, rows[80].created_at
    moscow = timezone(timedelta(hours=3))

    seen = walk(
        alice_api,
        query={
            "created_after": after.astimezone(moscow).isoformat(),
            "created_before": before.isoformat().replace("+00:00", "Z"),
        },
    )

    assert ids(seen) == [row.pk for row in reversed(rows[11:80])]
    only_after = walk(alice_api, query={"created_after": after.isoformat(), "status": "sent"})
    assert ids(only_after) == [row.pk for row in reversed(rows[11:]) if row.status == "sent"]


def test_the_date_filters_find_messages_a_clock_put_slightly_out_of_id_order(alice, alice_api):
    # Two web machines' clocks apart: message 21 was given a time 30 s before message 20's.
    rows = add_history(alice, 40)
    Message.objects.filter(pk=rows[21].pk).update(created_at=rows[20].created_at - timedelta(seconds=30))
    Message.objects.filter(pk=rows[31].pk).update(created_at=rows[30].created_at - timedelta(seconds=30))
    after = rows[20].created_at - timedelta(seconds=40)
    before = rows[30].created_at - timedelta(seconds=10)

    seen = walk(alice_api, query={"created_after": after.isoformat(), "created_before": before.isoformat()})

    assert ids(seen) == [row.pk for row in reversed(rows[20:32]) if row.pk != rows[30].pk]


def test_before_starts_below_an_id_and_cursor_with_before_takes_the_lower(alice, alice_api):
    rows = add_history(alice, 30)

    below = alice_api.get(MESSAGES_URL, {"before": rows[20].pk}).json()
    both = alice_api.get(MESSAGES_URL, {"before": rows[20].pk, "cursor": rows[5].pk}).json()

    assert ids(below["results"]) == [row.pk for row in reversed(rows[:20])]
    assert ids(both["results"]) == [row.pk for row in reversed(rows[:5])]
    assert alice_api.get(MESSAGES_URL, {"before": rows[0].pk}).json() == {"next": None, "results": []}
    assert len(alice_api.get(MESSAGES_URL, {"cursor": 2**63 - 1}).json()["results"]) == 30


def test_a_cursor_never_reaches_another_accounts_messages(alice, bob, alice_api, bob_api):
    mine = add_history(bob, 3)
    theirs = add_history(alice, 2 * PAGE)

    seen = walk(bob_api, query={"cursor": theirs[-1].pk + 1})

    assert ids(seen) == [row.pk for row in reversed(mine)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cursor", "abc"),
        ("cursor", "0"),
        ("cursor", ""),
        ("cursor", str(2**63)),
        ("before", "-1"),
        ("before", "12.5"),
        ("status", "lost"),
        ("status", ""),
        ("created_after", "yesterday"),
        ("created_after", "2026-03-01"),
        ("created_after", "2026-03-01T12:00:00"),
        ("created_before", "2026-02-30T12:00:00Z"),
        ("created_before", "2026-03-01T25:00:00Z"),
        ("created_before", ""),
    ],
)
def test_a_bad_parameter_is_400_naming_it(alice, alice_api, name, value):
    add_history(alice, 3)

    response = alice_api.get(MESSAGES_URL, {name: value})

    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_moments_at_the_ends_of_the_calendar_are_accepted(alice, alice_api):
    rows = add_history(alice, 3)

    early = alice_api.get(MESSAGES_URL, {"created_after": "0001-01-01T00:00:00+14:00"})
    late = alice_api.get(MESSAGES_URL, {"created_before": "9999-12-31T23:59:59-14:00"})

    assert ids(early.json()["results"]) == ids(late.json()["results"]) == [row.pk for row in reversed(rows)]
