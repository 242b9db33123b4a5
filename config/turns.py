"""Requests take turns in a web process: WEB_THREADS of them run at once, whatever the worker's threads.

gunicorn runs WEB_THREADS + WAIT_SLOTS threads in each process
(gunicorn.conf.py). The WAIT_SLOTS extra threads are there to hold requests
that wait for an answer (`?wait=`, relay/waiting.py), which give their turn
back while they wait. Everything else runs as on a sync worker, one request
after another: a request spends its time in Python and, on SQLite, behind
the one write lock, so more of them at once only wait for each other, with a
far longer tail (docs/benchmarks.md).

Each turn carries its own database connections, handed from thread to thread
with the turn, so a process holds WEB_THREADS connections however many of
its threads have served a request, as a sync worker holds one.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import connections

_local = threading.local()


class Turns:
    """A process's turns, each with the database connections its requests opened, handed on first come, first served."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._free: list[dict] = [{} for _ in range(count)]
        # Threads waiting for a turn, oldest first: each blocks on its own lock until handed one.
        self._waiting: deque[tuple[threading.Lock, list[dict]]] = deque()

    def take(self) -> None:
        """Wait for a turn and take up its connections in this thread."""
        with self._lock:
            if self._free:
                held = self._free.pop()
            else:
                handed, slot = threading.Lock(), []
                handed.acquire()
                self._waiting.append((handed, slot))
                held = None
        if held is None:
            handed.acquire()
            held = slot[0]
        for alias, wrapper in held.items():
            connections[alias] = wrapper
        _local.turns = self

    def give_back(self) -> None:
        """Hand this thread's turn, with the connections its requests opened, to the longest waiting."""
        held = {}
        for wrapper in connections.all(initialized_only=True):
            if not wrapper.allow_thread_sharing:
                # The thread that takes this turn next uses it; never two at once.
                wrapper.inc_thread_sharing()
            held[wrapper.alias] = wrapper
            del connections[wrapper.alias]
        _local.turns = None
        with self._lock:
            if self._waiting:
                handed, slot = self._waiting.popleft()
                slot.append(held)
                handed.release()
            else:
                self._free.append(held)


class TakingTurns:
    """WSGI middleware: each request runs in a turn, held until its response has been written."""

    def __init__(self, application: Callable, count: int) -> None:
        self.application = application
        self.turns = Turns(count)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.turns.take()
        try:
            response = self.application(environ, start_response)
        except BaseException:
            self.turns.give_back()
            raise
        # A streamed response reads the database as it is written out.
        return _GivenBackOnClose(response, self.turns)


class _GivenBackOnClose:
    def __init__(self, response: Iterable[bytes], turns: Turns) -> None:
        self.response = response
        self.turns = turns

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            close = getattr(self.response, "close", None)
            if close is not None:
                close()
        finally:
            self.turns.give_back()


@contextmanager
def turn_given_back() -> Iterator[None]:
    """Let other requests run while this one waits; its turn is taken again after. Nothing outside a turn."""
    turns = getattr(_local, "turns", None)
    if turns is None:
        yield
        return
    turns.give_back()
    try:
        yield
    finally:
        turns.take()
