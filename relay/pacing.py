"""The pace Telegram allows: a global rate across every worker, and spacing per chat by its kind.

The global bucket lives in the worker's memory when there is one worker
process, and in Redis when REDIS_URL is set, so every thread, process and
machine draws from the same budget. A bot-wide pause after a global flood
answer is shared the same way, through Django's cache.
"""

import math
from datetime import UTC, datetime, timedelta
from functools import cache as memoize

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone
from pyrate_limiter import InMemoryBucket, Limiter, Rate, RedisBucket

from relay.models import Destination

BOT_PAUSE_KEY = "delivery:bot-paused-until"
LAST_429_KEY = "delivery:last-429"
GLOBAL_FLOOD_WINDOW_SECONDS = 2


@memoize
def _limiter() -> Limiter:
    # One send every 1/rate of a second, evenly: sends that left in a burst
    # at the start of each second could, with delays on the way, crowd two
    # bursts into one of Telegram's one-second windows.
    rates = [Rate(1, math.ceil(1000 / settings.DELIVERY_GLOBAL_RATE))]
    if settings.REDIS_URL:
        import redis

        bucket = RedisBucket.init(rates, redis.Redis.from_url(settings.REDIS_URL), "tgrelay:telegram-sends")
    else:
        bucket = InMemoryBucket(rates)
    # A waiting send sleeps until its place is free, plus this margin:
    # pyrate-limiter's default of 50 ms, on a spacing of 40 ms, held sends
    # to about 80% of the rate (docs/benchmarks.md).
    return Limiter(bucket, buffer_ms=0)


def acquire_send_slot(timeout: float = 5.0) -> bool:
    """Wait for a place under the global rate; False if none came within `timeout`."""
    return bool(_limiter().try_acquire("telegram-sends", blocking=True, timeout=timeout))


def interval(destination: Destination) -> timedelta:
    """The spacing Telegram allows between two messages to the destination's chat."""
    if destination.paced_as_group:
        return timedelta(seconds=settings.DELIVERY_GROUP_INTERVAL_SECONDS)
    return timedelta(seconds=settings.DELIVERY_CHAT_INTERVAL_SECONDS)


def chat_ready_at(destination: Destination) -> datetime | None:
    """When the next message may go to this destination, if not now.

    A group's limit is the chat's: its topics, and other accounts' links to
    it, share one pace, so their last send and pause count too.
    """
    last_sent_at, paused_until = destination.last_sent_at, destination.paused_until
    if destination.paced_as_group:
        shared = Destination.objects.filter(chat_id=destination.chat_id).aggregate(
            last_sent_at=Max("last_sent_at"), paused_until=Max("paused_until")
        )
        last_sent_at, paused_until = shared["last_sent_at"], shared["paused_until"]
    candidates = [paused_until]
    if last_sent_at is not None:
        candidates.append(last_sent_at + interval(destination))
    ready = max((moment for moment in candidates if moment is not None), default=None)
    return ready if ready is not None and ready > timezone.now() else None


def record_sent(destination: Destination) -> None:
    destination.last_sent_at = timezone.now()
    Destination.objects.filter(pk=destination.pk).update(last_sent_at=destination.last_sent_at)


def pause_chat(destination: Destination, until: datetime) -> None:
    destination.paused_until = until
    Destination.objects.filter(pk=destination.pk).update(paused_until=until)


def is_global_flood(destination: Destination) -> bool:
    """Whether a 429 just received for `chat` is about the whole bot.

    Telegram answers a chat flood and a bot-wide flood alike. A chat flood
    touches one chat; a bot-wide one touches whichever chats are being sent
    to, so a second chat answered 429 within a moment of the first means
    the whole bot must wait.
    """
    now = timezone.now().timestamp()
    previous = cache.get(LAST_429_KEY)
    chat_id = destination.chat_id
    cache.set(LAST_429_KEY, (chat_id, now), GLOBAL_FLOOD_WINDOW_SECONDS * 2)
    return previous is not None and previous[0] != chat_id and now - previous[1] <= GLOBAL_FLOOD_WINDOW_SECONDS


def pause_bot(until: datetime) -> None:
    current = bot_paused_until()
    if current is None or until > current:
        seconds = max((until - timezone.now()).total_seconds(), 0) + 1
        cache.set(BOT_PAUSE_KEY, until.timestamp(), seconds)


def bot_paused_until() -> datetime | None:
    stamp = cache.get(BOT_PAUSE_KEY)
    if stamp is None:
        return None
    until = datetime.fromtimestamp(stamp, tz=UTC)
    return until if until > timezone.now() else None
