"""Pacing by kind of chat: groups, topics and channels at DELIVERY_GROUP_INTERVAL_SECONDS, one pace per group."""

from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.cache.backends import db as db_cache
from django.db.models import F, Min
from django.utils import timezone

import fakegram.server
from conftest import ALICE_CHAT, make_due, poll_bot, run_sweep
from relay.models import Destination
from relay.tests.helpers import MESSAGES_URL, delivered_text, get_message, texts
from relay.tests.linking import OWNER, link_group, link_topic, new_code, new_forum

pytestmark = pytest.mark.django_db(transaction=True)

GROUP_INTERVAL = 30


@pytest.fixture
def paced(settings):
    """Private chats one message a second, groups one every GROUP_INTERVAL seconds."""
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 1
    settings.DELIVERY_GROUP_INTERVAL_SECONDS = GROUP_INTERVAL


def send(api, text: str, to) -> dict:
    response = api.post(MESSAGES_URL, {"text": text, "to": to}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def time_passes(seconds: float) -> None:
    """Move every destination's last send, booked turn and pause back: the test stands in for the clock."""
    shift = timedelta(seconds=seconds)
    Destination.objects.exclude(last_sent_at=None).update(last_sent_at=F("last_sent_at") - shift)
    Destination.objects.exclude(next_turn_at=None).update(next_turn_at=F("next_turn_at") - shift)
    Destination.objects.exclude(paused_until=None).update(paused_until=F("paused_until") - shift)


def relayed(tg, chat_id: int) -> list[dict]:
    """What the relay sent to the chat: not the bot's replies to /start."""
    return [record for record in tg.sent(chat_id=chat_id) if not record["text"].startswith(("Готово", "Done"))]


def link_supergroup(tg, api, label: str) -> int:
    chat_id = tg.create_group("Super", supergroup=True, members={OWNER: "creator"})
    tg.add_bot_to_group(chat_id, by=OWNER, start=new_code(api, label)["code"])
    poll_bot()
    return chat_id


def link_channel(tg, api, label: str) -> int:
    chat_id = tg.create_channel("News")
    tg.set_bot_rights(chat_id, status="administrator", can_post_messages=True)
    tg.channel_post(chat_id, new_code(api, label)["code"])
    poll_bot()
    return chat_id


def link_one_topic(tg, api, label: str) -> int:
    chat_id = new_forum(tg, "Forum")
    link_topic(tg, api, chat_id, "Builds", label)
    return chat_id


LINKERS = {
    "group": lambda tg, api, label: link_group(tg, api, "Team", label)[0],
    "supergroup": link_supergroup,
    "channel": link_channel,
    "topic": link_one_topic,
}


@pytest.mark.parametrize("kind", list(LINKERS))
def test_a_group_kind_waits_for_the_group_interval_not_the_private_one(tg, paced, alice_linked, kind):
    chat_id = LINKERS[kind](tg, alice_linked, "there")
    there = Destination.objects.get(label="there")
    assert there.kind == kind
    send(alice_linked, "one", "there")
    second = send(alice_linked, "two", "there")
    assert [record["text"] for record in relayed(tg, chat_id)] == [delivered_text("Alice", "one")]

    # Its next turn is booked a group interval after the send.
    there.refresh_from_db()
    assert there.next_turn_at == there.last_sent_at + timedelta(seconds=GROUP_INTERVAL)
    run_sweep()
    # Past a private chat's interval, not yet past a group's.
    time_passes(2)
    run_sweep()
    assert len(relayed(tg, chat_id)) == 1
    assert get_message(alice_linked, second["id"])["status"] == "queued"

    time_passes(GROUP_INTERVAL - 2)
    run_sweep()

    assert [record["text"] for record in relayed(tg, chat_id)] == [delivered_text("Alice", t) for t in ("one", "two")]
    assert get_message(alice_linked, second["id"])["status"] == "sent"


def test_a_private_chat_keeps_its_own_shorter_interval(tg, paced, alice_linked):
    send(alice_linked, "one", "me")
    send(alice_linked, "two", "me")

    time_passes(2)
    run_sweep()

    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "one"), delivered_text("Alice", "two")]


def test_a_second_message_to_a_group_waits_for_its_turn_and_goes_after_make_due(tg, alice_linked, settings):
    settings.DELIVERY_GROUP_INTERVAL_SECONDS = 3
    chat_id, _ = link_group(tg, alice_linked, "Team", "team")
    send(alice_linked, "one", "team")
    send(alice_linked, "two", "team")

    run_sweep()
    assert len(relayed(tg, chat_id)) == 1

    make_due()
    run_sweep()
    assert len(relayed(tg, chat_id)) == 2


def test_two_topics_of_one_group_share_its_pace(tg, paced, alice_linked):
    chat_id = new_forum(tg, "Forum")
    builds, _ = link_topic(tg, alice_linked, chat_id, "Builds", "builds")
    alerts, _ = link_topic(tg, alice_linked, chat_id, "Alerts", "alerts")
    send(alice_linked, "build passed", "builds")

    waiting = send(alice_linked, "disk full", "alerts")
    run_sweep()
    time_passes(GROUP_INTERVAL - 1)
    run_sweep()

    assert get_message(alice_linked, waiting["id"])["status"] == "queued"
    assert [(r["message_thread_id"], r["text"]) for r in relayed(tg, chat_id)] == [
        (builds, delivered_text("Alice", "build passed"))
    ]

    time_passes(1)
    run_sweep()

    assert [(r["message_thread_id"], r["text"]) for r in relayed(tg, chat_id)] == [
        (builds, delivered_text("Alice", "build passed")),
        (alerts, delivered_text("Alice", "disk full")),
    ]


def test_two_accounts_linked_to_one_group_share_its_pace(tg, paced, alice_linked, bob_linked):
    chat_id, _ = link_group(tg, alice_linked, "Team", "team")
    tg.add_bot_to_group(chat_id, by=OWNER, start=new_code(bob_linked, "team")["code"])
    poll_bot()
    send(alice_linked, "from alice", "team")

    waiting = send(bob_linked, "from bob", "team")
    run_sweep()

    assert get_message(bob_linked, waiting["id"])["status"] == "queued"
    time_passes(GROUP_INTERVAL)
    run_sweep()
    assert [record["text"] for record in relayed(tg, chat_id)] == [
        delivered_text("Alice", "from alice"),
        delivered_text("Bob", "from bob"),
    ]


def test_another_group_is_not_held_back_by_a_groups_pace(tg, paced, alice_linked):
    first, _ = link_group(tg, alice_linked, "Team", "team")
    second, _ = link_group(tg, alice_linked, "Ops", "ops")
    send(alice_linked, "one", "team")

    send(alice_linked, "right away", "ops")

    assert [record["text"] for record in relayed(tg, second)] == [delivered_text("Alice", "right away")]
    assert len(relayed(tg, first)) == 1


# -- Telegram's 20 messages a minute per group, on a simulated clock -------------------


class Clock:
    """One clock for the relay (Django's) and for the simulated Telegram's rate windows, moved by hand."""

    def __init__(self) -> None:
        self.start = self.current = timezone.now()

    def now(self):
        return self.current

    def monotonic(self) -> float:
        return 1_000_000.0 + (self.current - self.start).total_seconds()


class _TimeOn:
    """The `time` module as the simulated Telegram sees it: its monotonic clock is the test's."""

    def __init__(self, real, clock: Clock) -> None:
        self._real, self._clock = real, clock

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def __getattr__(self, name: str):
        return getattr(self._real, name)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    monkeypatch.setattr(db_cache, "tz_now", clock.now)
    monkeypatch.setattr(fakegram.server, "time", _TimeOn(fakegram.server.time, clock))
    return clock


BURST = 45


def test_default_pacing_never_meets_telegrams_limit_of_20_a_minute_in_a_group(tg, settings, alice_linked, clock):
    """A burst to a forum's general chat and two of its topics, worked off as the clock runs for two minutes."""
    settings.DELIVERY_GROUP_INTERVAL_SECONDS = 3
    chat_id = tg.create_group("Forum", forum=True, members={OWNER: "creator"})
    tg.add_bot_to_group(chat_id, by=OWNER, start=new_code(alice_linked, "general")["code"])
    poll_bot()
    link_topic(tg, alice_linked, chat_id, "Builds", "builds")
    link_topic(tg, alice_linked, chat_id, "Alerts", "alerts")
    already = len(tg.sent(chat_id=chat_id))
    tg.set_limits(per_group_per_minute=20)
    labels = ["general", "builds", "alerts"]
    posted = defaultdict(list)
    for number in range(BURST):
        label = labels[number % 3]
        send(alice_linked, f"{label} {number}", label)
        posted[label].append(delivered_text("Alice", f"{label} {number}"))

    # The clock goes from one turn the relay booked to the next, as its worker's scheduled tasks run.
    end = clock.start + timedelta(seconds=120)
    while True:
        booked = Destination.objects.filter(chat_id=chat_id, next_turn_at__gt=clock.current)
        turn = booked.aggregate(turn=Min("next_turn_at"))["turn"]
        if turn is None or turn > end:
            break
        clock.current = turn
        run_sweep()

    assert tg.request_counts()["rate_limited"] == 0
    sent = tg.sent(chat_id=chat_id)[already:]
    # One every 3 seconds from the first, at 0 s: as many as the limit allows, no fewer.
    assert len(sent) == 120 // 3 + 1
    # Each destination's messages in the order they were posted.
    threads = {None: "general"} | {
        Destination.objects.get(label=label).thread_id: label for label in ("builds", "alerts")
    }
    received = defaultdict(list)
    for record in sent:
        received[threads[record.get("message_thread_id")]].append(record["text"])
    for label in labels:
        assert received[label] == posted[label][: len(received[label])]
