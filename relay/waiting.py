"""Waiting for a message to be answered or to fail, without a request holding a worker process.

One listener thread per web process watches every message its requests wait
for, with one query a tick for all of them, and wakes each waiter when its
message is answered, sent or failed. A waiting request holds only a thread
of a threaded worker (WEB_THREADS), idle on an Event: hundreds cost the
database a few queries a second, and the other threads serve the rest of
the API. An answer recorded in this process wakes its waiters at once.

A process holds at most WAIT_SLOTS waiting requests (its threads but one):
with gunicorn's sync workers (one thread) none, so `?wait=` answers at once
and a client polls, and no number of waiters can take every worker.
"""

import threading
import time
from collections import defaultdict

from django.conf import settings
from django.db import close_old_connections, connection

from config.turns import turn_given_back
from ops import metrics
from relay.models import Message

TICK_SECONDS = 0.25
LONGEST_WAIT_SECONDS = 300

_lock = threading.Lock()
_waiters: dict[int, set[threading.Event]] = defaultdict(set)
_listener: threading.Thread | None = None


def wait(message_pk: int, seconds: float) -> None:
    """Return once the message is answered, sent or failed (when it was queued), or after `seconds`.

    Returns at once when this process already holds WAIT_SLOTS waiting requests.
    """
    if seconds <= 0:
        return
    event = threading.Event()
    with _lock:
        if sum(len(events) for events in _waiters.values()) >= settings.WAIT_SLOTS:
            return
        _waiters[message_pk].add(event)
        _start_listener()
    metrics.waiting_started()
    try:
        with turn_given_back():
            event.wait(min(seconds, LONGEST_WAIT_SECONDS))
    finally:
        metrics.waiting_ended()
        with _lock:
            _waiters[message_pk].discard(event)
            if not _waiters[message_pk]:
                del _waiters[message_pk]


def notify(message_pk: int) -> None:
    """Wake this process's waiters for the message now (the listener would within a tick)."""
    with _lock:
        for event in _waiters.get(message_pk, ()):
            event.set()


def is_settled(message: Message) -> bool:
    """What a waiter waits for: an answer, or a message that will not change any more."""
    if message.answer is not None:
        return True
    asks = message.accept_reply or any("answer" in button for row in message.buttons for button in row)
    # A question waits for its answer once sent; anything else for its outcome.
    return message.status == Message.Status.FAILED or (not asks and message.status != Message.Status.QUEUED)


def _start_listener() -> None:
    global _listener
    if _listener is None or not _listener.is_alive():
        _listener = threading.Thread(target=_listen, name="message-waiters", daemon=True)
        _listener.start()


def _listen() -> None:
    while True:
        time.sleep(TICK_SECONDS)
        with _lock:
            watched = list(_waiters)
        if not watched:
            # Nobody waits: the thread's connection goes back, so an idle
            # process holds none for it (and a test database can be dropped).
            connection.close()
            continue
        try:
            settled = [
                message.pk
                for message in Message.objects.filter(pk__in=watched).only(
                    "pk", "status", "answer", "accept_reply", "buttons"
                )
                if is_settled(message)
            ]
        except Exception:
            # A database that does not answer now may later; the waiters' own timeouts still end them.
            close_old_connections()
            continue
        for message_pk in settled:
            notify(message_pk)
