"""Counters stay exact under concurrency and keep their window, on either backend."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from ops import counters

NOW = 1_800_000_000.0


def test_of_forty_concurrent_takers_exactly_the_limit_get_a_slot(transactional_db):
    barrier = threading.Barrier(40)

    def take(_):
        barrier.wait()
        try:
            return counters.take("test:race", limit=5, window=60)
        finally:
            connection.close()

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(take, range(40)))

    assert sum(outcome is None for outcome in outcomes) == 5
    # The refused gave their increments back: the count is what was taken.
    assert counters.get("test:race") == 5


@pytest.mark.django_db
def test_a_window_ends_when_it_began_plus_its_length_whatever_came_after():
    assert counters.add("test:window", 900, now=NOW).count == 1
    assert counters.add("test:window", 900, now=NOW + 899).count == 2
    assert counters.get("test:window", now=NOW + 899.9) == 2

    assert counters.get("test:window", now=NOW + 900) == 0
    fresh = counters.add("test:window", 900, now=NOW + 900)
    assert (fresh.count, fresh.expires_at) == (1, NOW + 1800)


@pytest.mark.django_db
def test_taking_refuses_past_the_limit_until_the_window_ends():
    assert [counters.take("test:take", 2, 600, now=NOW) for _ in range(2)] == [None, None]
    assert counters.take("test:take", 2, 600, now=NOW + 100) == 500
    assert counters.get("test:take", now=NOW + 100) == 2

    counters.give_back("test:take", now=NOW + 100)
    assert counters.take("test:take", 2, 600, now=NOW + 101) is None
    assert counters.take("test:take", 2, 600, now=NOW + 600) is None
    counters.clear("test:take")
    assert counters.get("test:take", now=NOW + 600) == 0


@pytest.mark.django_db
def test_giving_back_never_goes_below_zero_nor_opens_a_window():
    counters.give_back("test:empty", now=NOW)
    assert counters.get("test:empty", now=NOW) == 0
    counters.add("test:empty", 10, now=NOW)
    counters.give_back("test:empty", now=NOW + 11)
    assert counters.add("test:empty", 10, now=NOW + 11).count == 1
