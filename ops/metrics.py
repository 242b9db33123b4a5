"""Prometheus metrics: events counted where they happen, queue gauges read at scrape time.

The web server (several gunicorn processes) and the delivery worker are
separate processes, so events are counted in prometheus_client's
multiprocess mode: each process writes its own file in
PROMETHEUS_MULTIPROC_DIR (set in settings), and a scrape merges them. The
queue gauges need no such merging: they are counted from the message rows
when /metrics is read.
"""

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from relay.models import Message

# Not registered in this process's default registry: in multiprocess mode
# the files are what a scrape reads.
_accepted = Counter("tgrelay_messages_accepted", "Messages accepted by the API.", registry=None)
_sent = Counter("tgrelay_messages_sent", "Messages delivered to Telegram in full.", registry=None)
_failed = Counter("tgrelay_messages_failed", "Messages given up on, with the reason on the row.", registry=None)
_retries = Counter("tgrelay_send_retries", "Failed send attempts scheduled to be tried again.", registry=None)
_rate_limited = Counter("tgrelay_telegram_429", "429 answers received from the Bot API.", registry=None)
_latency = Histogram(
    "tgrelay_accept_to_sent_seconds",
    "Time from the API accepting a message to its last part being sent.",
    # Most messages go out within a second; retries stretch it to hours.
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600),
    registry=None,
)
# Summed over the web processes that are alive (relay/waiting.py).
_waiting = Gauge(
    "tgrelay_waiting_requests",
    "Requests held open until their message is answered, sent or failed (?wait=).",
    multiprocess_mode="livesum",
    registry=None,
)


def message_accepted() -> None:
    _accepted.inc()


def message_sent(latency_seconds: float) -> None:
    _sent.inc()
    _latency.observe(max(latency_seconds, 0.0))


def message_failed() -> None:
    _failed.inc()


def messages_failed(count: int) -> None:
    """Several messages failed at once (a chat gone, an unlink)."""
    if count:
        _failed.inc(count)


def waiting_started() -> None:
    _waiting.inc()


def waiting_ended() -> None:
    _waiting.dec()


def send_retried() -> None:
    _retries.inc()


def telegram_rate_limited() -> None:
    _rate_limited.inc()


class QueueCollector:
    """Queue depth and the age of the oldest queued message, from the database."""

    def collect(self):
        try:
            queued = Message.objects.filter(status=Message.Status.QUEUED).aggregate(
                depth=Count("id"), oldest=Min("created_at")
            )
        except DatabaseError:
            # The counters are still worth a scrape; /readyz reports the database.
            return
        oldest = queued["oldest"]
        yield GaugeMetricFamily("tgrelay_queue_depth", "Messages waiting to be sent.", value=queued["depth"])
        yield GaugeMetricFamily(
            "tgrelay_oldest_queued_age_seconds",
            "Age of the oldest message waiting to be sent; 0 when none waits.",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )


def render() -> bytes:
    """Every process's counters and the queue gauges, in the Prometheus text format."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(QueueCollector())
    return generate_latest(registry)
