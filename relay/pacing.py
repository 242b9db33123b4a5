"""The pace Telegram allows: a global rate across every worker, and per-chat spacing.

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
from django.utils import timezone
from pyrate_limiter import InMemoryBucket, Limiter, Rate, RedisBucket

from relaybot.models import Chat

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


def chat_ready_at(chat: Chat) -> datetime | None:
    """When the next message may go to this chat, if not now."""
    candidates = [chat.paused_until]
    if chat.last_sent_at is not None:
        candidates.append(chat.last_sent_at + timedelta(seconds=settings.DELIVERY_CHAT_INTERVAL_SECONDS))
    ready = max((moment for moment in candidates if moment is not None), default=None)
    return ready if ready is not None and ready > timezone.now() else None


def record_sent(chat: Chat) -> None:
    chat.last_sent_at = timezone.now()
    Chat.objects.filter(pk=chat.pk).update(last_sent_at=chat.last_sent_at)


def pause_chat(chat: Chat, until: datetime) -> None:
    chat.paused_until = until
    Chat.objects.filter(pk=chat.pk).update(paused_until=until)


def is_global_flood(chat: Chat) -> bool:
    """Whether a 429 just received for `chat` is about the whole bot.

    Telegram answers a chat flood and a bot-wide flood alike. A chat flood
    touches one chat; a bot-wide one touches whichever chats are being sent
    to, so a second chat answered 429 within a moment of the first means
    the whole bot must wait.
    """
    now = timezone.now().timestamp()
    previous = cache.get(LAST_429_KEY)
    cache.set(LAST_429_KEY, (chat.pk, now), GLOBAL_FLOOD_WINDOW_SECONDS * 2)
    return previous is not None and previous[0] != chat.pk and now - previous[1] <= GLOBAL_FLOOD_WINDOW_SECONDS


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
