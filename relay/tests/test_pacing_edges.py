"""Edges of pacing that no test checked: the bot-wide flood window, a bot pause's length and end, the limiter's wait."""

from datetime import timedelta

import pytest
from django.core.cache.backends import db as db_cache
from django.utils import timezone

from conftest import ALICE_CHAT, BOB_CHAT, make_due, run_sweep
from relay import pacing
from relay.models import Destination
from relay.tests.helpers import delivered_text, get_message, post_text, texts

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    """Django's clock, moved by hand, starting on a whole second just ahead of the real one."""

    def __init__(self) -> None:
        self.now = (timezone.now() + timedelta(seconds=1)).replace(microsecond=0)
        self.start = self.now

    def at(self, seconds: float) -> None:
        self.now = self.start + timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    # The cache table ends an entry by the same clock, so an entry that must
    # outlive a moment is seen to (Redis keeps real time, where no time passes).
    monkeypatch.setattr(db_cache, "tz_now", lambda: clock.now)
    return clock


@pytest.fixture
def two_chats(alice_linked, bob_linked) -> tuple[Destination, Destination]:
    return Destination.objects.get(chat_id=ALICE_CHAT), Destination.objects.get(chat_id=BOB_CHAT)


# -- the bot-wide flood window -----------------------------------------------------


def test_a_second_chat_answered_429_at_the_window_edge_is_a_bot_wide_flood(clock, two_chats):
    alice_chat, bob_chat = two_chats

    assert pacing.is_global_flood(alice_chat) is False
    clock.at(pacing.GLOBAL_FLOOD_WINDOW_SECONDS)

    assert pacing.is_global_flood(bob_chat) is True


def test_a_second_chat_answered_429_past_the_window_is_its_own_flood(clock, two_chats):
    alice_chat, bob_chat = two_chats

    pacing.is_global_flood(alice_chat)
    clock.at(pacing.GLOBAL_FLOOD_WINDOW_SECONDS + 0.001)

    assert pacing.is_global_flood(bob_chat) is False


def test_two_429s_for_the_same_chat_stay_chat_only(clock, two_chats):
    alice_chat, _ = two_chats

    assert pacing.is_global_flood(alice_chat) is False
    clock.at(1)
    assert pacing.is_global_flood(alice_chat) is False


def test_two_429s_for_the_same_chat_in_delivery_do_not_pause_the_bot(tg, alice_linked, bob_linked):
    tg.add_fault(kind="429", retry_after=9, chat_id=ALICE_CHAT, times=2)
    body = post_text(alice_linked, "flooded twice")
    make_due()
    run_sweep()

    assert tg.request_counts()["rate_limited"] == 2
    assert pacing.bot_paused_until() is None
    assert get_message(alice_linked, body["id"])["status"] == "queued"
    # Only Alice's chat waits.
    post_text(bob_linked, "goes through")
    assert texts(tg.sent(chat_id=BOB_CHAT)) == [delivered_text("Bob", "goes through")]


# -- a bot-wide pause --------------------------------------------------------------


def test_a_later_shorter_429_does_not_shorten_a_bot_wide_pause(clock):
    pacing.pause_bot(clock.now + timedelta(seconds=9))
    pacing.pause_bot(clock.now + timedelta(seconds=2))

    assert pacing.bot_paused_until() == clock.start + timedelta(seconds=9)


def test_a_later_longer_429_lengthens_a_bot_wide_pause(clock):
    pacing.pause_bot(clock.now + timedelta(seconds=2))
    pacing.pause_bot(clock.now + timedelta(seconds=9))

    assert pacing.bot_paused_until() == clock.start + timedelta(seconds=9)


def test_a_bot_wide_pause_ends_exactly_at_its_time(clock):
    pacing.pause_bot(clock.now + timedelta(seconds=5))

    clock.at(4.999)
    assert pacing.bot_paused_until() == clock.start + timedelta(seconds=5)
    clock.at(5)
    assert pacing.bot_paused_until() is None


def test_a_long_bot_wide_pause_outlives_the_cache_default_timeout(clock):
    pacing.pause_bot(clock.now + timedelta(seconds=1000))

    clock.at(400)

    assert pacing.bot_paused_until() == clock.start + timedelta(seconds=1000)


def test_a_bot_wide_pause_shorter_than_a_second_holds(db):
    until = timezone.now() + timedelta(milliseconds=500)

    pacing.pause_bot(until)

    assert pacing.bot_paused_until() is not None


# -- a chat's own pace -------------------------------------------------------------


def test_a_chat_is_ready_again_exactly_when_its_interval_has_passed(clock, settings):
    settings.DELIVERY_CHAT_INTERVAL_SECONDS = 1
    chat = Destination(kind="private", last_sent_at=clock.now)

    assert pacing.chat_ready_at(chat) == clock.start + timedelta(seconds=1)
    clock.at(1)
    assert pacing.chat_ready_at(chat) is None


def test_pause_chat_holds_the_chat_it_was_given_and_its_row(alice_linked):
    chat = Destination.objects.get(chat_id=ALICE_CHAT)
    until = timezone.now() + timedelta(seconds=30)

    pacing.pause_chat(chat, until)

    assert pacing.chat_ready_at(chat) == until
    assert Destination.objects.get(pk=chat.pk).paused_until == until


# -- the global rate ---------------------------------------------------------------


def test_a_send_waits_for_its_place_under_the_rate_rather_than_being_refused(settings):
    settings.DELIVERY_GLOBAL_RATE = 20
    pacing._limiter.cache_clear()
    try:
        first = pacing.acquire_send_slot(timeout=0)
        # The next place is 50 ms on: with time to wait, the send waits for it.
        second = pacing.acquire_send_slot(timeout=2)
    finally:
        pacing._limiter.cache_clear()
    assert (first, second) == (True, True)
