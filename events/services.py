"""Events out: what happens to an account's messages and destinations, POSTed to its endpoints, signed.

`emit` stores one Delivery row for each of the account's endpoints that
subscribes to the event, in the caller's transaction, and asks a worker for
each once it commits; a periodic sweep finds any whose task was lost. A
worker claims a row with a conditional UPDATE, POSTs it (Standard Webhooks:
webhook-id, webhook-timestamp, webhook-signature) and records the outcome: a
2xx delivers it; anything else, a redirect included, is tried again after a
backoff (5 s doubling to an hour), and after MAX_ATTEMPTS the delivery has
failed. Delivery is at least once: a worker stopped between its POST and
the record of it sends again, with the same webhook-id for the receiver to
tell.

The body is {"type", "timestamp" (when it happened), "data"}; `data` by type:

- message.sent, message.failed, message.answered:
  {"message": {"id", "destination", "status", "created_at", "sent_at", "error"}},
  and for message.answered also "answer" ({"value", "kind", "by", "at"}):
  `emit_message(message=..., event_type=EventType.MESSAGE_ANSWERED, answer=...)`.
- destination.unreachable: {"destination": {"id", "label", "kind", "unreachable_reason"}}.
- webhook.test: {"endpoint": {"id", "url"}}, to the one endpoint asked.

`destination` in a message is the destination's id (null once removed);
times are ISO 8601 in UTC.
"""

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import User
from events import addresses
from events.addresses import AddressRefused
from events.models import TEST_EVENT, Delivery, Endpoint, EventType
from relay.models import Destination, Message

logger = logging.getLogger(__name__)

# An account's endpoints: every event is one row and one POST for each.
MAX_ENDPOINTS = 20
MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 3600
TIMEOUT_SECONDS = 10
# How long a claimed row is left to its worker: longer than a send can take
# (the name's lookup, then up to addresses.MAX_ADDRESSES_TRIED connections
# and the request, each phase within TIMEOUT_SECONDS). A worker killed
# mid-send holds its row this long.
CLAIM_SECONDS = 300
# Rows the sweep hands out at once; the rest wait for its next minute.
SWEEP_BATCH = 500
# Delivered and failed rows are kept this long, for the account to see.
RETENTION = timedelta(days=30)
USER_AGENT = "tg-relay-webhooks/1"


class TooManyEndpoints(Exception):
    """The account has MAX_ENDPOINTS already."""


# -- endpoints ---------------------------------------------------------------------


def create_endpoint(*, user: User, url: str, events: Iterable[str]) -> tuple[Endpoint, str]:
    """A new endpoint; the secret is in the return value, and the caller shows it once.

    Raises AddressRefused (events/addresses.py) or TooManyEndpoints.
    """
    addresses.check_endpoint_url(url)
    if Endpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS:
        raise TooManyEndpoints
    chosen = set(events)
    secret = create_secret()
    endpoint = Endpoint.objects.create(
        user=user, url=url, events=[event for event in EventType.values if event in chosen], secret=secret
    )
    return endpoint, secret


def create_secret() -> str:
    """A signing secret as Standard Webhooks writes one: "whsec_" and the base64 of a 256-bit key."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def delete_endpoint(*, user: User, endpoint_id: int) -> bool:
    """Remove the account's endpoint and its deliveries, pending ones too; False if it has none such."""
    deleted, _ = Endpoint.objects.filter(user=user, pk=endpoint_id).delete()
    return deleted > 0


def send_test(*, user: User, endpoint_id: int) -> Delivery | None:
    """Queue a webhook.test event for the account's endpoint; None if it has none such."""
    endpoint = Endpoint.objects.filter(user=user, pk=endpoint_id).first()
    if endpoint is None:
        return None
    with transaction.atomic():
        [delivery] = _store([endpoint], TEST_EVENT, {"endpoint": {"id": endpoint.pk, "url": endpoint.url}})
    return delivery


# -- emitting ----------------------------------------------------------------------


def emit(*, user: User, event_type: str, data: dict) -> list[Delivery]:
    """Store the event for each of the account's endpoints subscribed to it; sent once the caller commits."""
    return _store(_subscribed(user.pk, event_type), event_type, data)


def emit_message(*, message: Message, event_type: str, answer: dict | None = None) -> list[Delivery]:
    """A message event (sent, failed, answered) for the message's account."""
    return _store(_subscribed(message.user_id, event_type), event_type, message_data(message, answer=answer))


def emit_messages(*, messages: QuerySet[Message], event_type: str) -> int:
    """One event per message, for messages changed together (a bundle, a destination's queue failed at once).

    Only messages of accounts with an endpoint subscribed are read. Returns how many deliveries were stored.
    """
    endpoints: dict[int, list[Endpoint]] = {}
    for endpoint in Endpoint.objects.filter(user_id__in=messages.values("user_id")).order_by("pk"):
        if event_type in endpoint.events:
            endpoints.setdefault(endpoint.user_id, []).append(endpoint)
    if not endpoints:
        return 0
    stored = 0
    for message in messages.filter(user_id__in=list(endpoints)).order_by("pk").iterator(chunk_size=500):
        stored += len(_store(endpoints[message.user_id], event_type, message_data(message)))
    return stored


def emit_destinations_unreachable(*, destinations: Iterable[Destination], reason: str) -> None:
    """A destination.unreachable event for each destination, now unreachable for `reason`."""
    event_type = EventType.DESTINATION_UNREACHABLE
    for destination in destinations:
        data = {
            "destination": {
                "id": destination.pk,
                "label": destination.label,
                "kind": destination.kind,
                "unreachable_reason": reason,
            }
        }
        _store(_subscribed(destination.user_id, event_type), event_type, data)


def message_data(message: Message, *, answer: dict | None = None) -> dict:
    """A message event's `data`."""
    data = {
        "id": message.pk,
        "destination": message.destination_id,
        "status": message.status,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "error": message.error,
    }
    if answer is not None:
        data["answer"] = answer
    return {"message": data}


def _subscribed(user_id: int, event_type: str) -> list[Endpoint]:
    # Filtered here rather than in SQL: SQLite has no JSON "contains", and an account has few endpoints.
    return [endpoint for endpoint in Endpoint.objects.filter(user_id=user_id) if event_type in endpoint.events]


def _store(endpoints: list[Endpoint], event_type: str, data: dict) -> list[Delivery]:
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            endpoint=endpoint,
            event_type=event_type,
            payload=data,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint in endpoints
    )
    transaction.on_commit(partial(_dispatch, [delivery.pk for delivery in deliveries]))
    return deliveries


def _dispatch(delivery_pks: list[int]) -> None:
    from events.tasks import deliver_webhook_task

    for delivery_pk in delivery_pks:
        try:
            deliver_webhook_task(delivery_pk)
        except Exception:
            # The row is stored; the sweep will find it.
            logger.exception("could not enqueue webhook delivery %s; the sweep will", delivery_pk)


# -- delivering --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: a status code, or an error and whether trying again could help."""

    status_code: int | None = None
    error: str = ""
    permanent: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver(delivery_pk: int) -> datetime | None:
    """One attempt at a delivery, if it is due and no other worker has it; returns when to try again, if ever.

    An error nobody foresaw is a failed attempt like any other, so it is
    tried again and fails in the end rather than stop the worker.
    """
    delivery = claim(delivery_pk)
    if delivery is None:
        return None
    try:
        outcome = send(delivery)
    except Exception as error:
        logger.exception("webhook delivery %s: unexpected %s", delivery.pk, type(error).__name__)
        outcome = Outcome(error=type(error).__name__)
    return record(delivery, outcome)


def claim(delivery_pk: int) -> Delivery | None:
    """Take a due delivery for one attempt, counting it; None if it is not due or another worker took it.

    The conditional UPDATE moves next_attempt_at on by CLAIM_SECONDS, so no
    other worker (a retry task, the sweep) takes it meanwhile; the new value
    is the claim's mark, which `record` checks.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_pk, status=Delivery.Status.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1
    )
    if claimed != 1:
        return None
    return Delivery.objects.select_related("endpoint").filter(pk=delivery_pk).first()


def send(delivery: Delivery) -> Outcome:
    """POST the delivery to its endpoint, signed for this attempt's time; records nothing."""
    body = json.dumps(
        {"type": delivery.event_type, "timestamp": _iso(delivery.created_at), "data": delivery.payload},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=delivery.endpoint.secret, webhook_id=delivery.webhook_id, timestamp=timestamp, body=body
        ),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        status_code = addresses.post(delivery.endpoint.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except AddressRefused as error:
        # Where the name points now is not a place to send to; trying again will not make it one.
        return Outcome(error=f"Refused: {error}", permanent=True)
    except addresses.Unresolvable as error:
        return Outcome(error=str(error))
    except httpx.HTTPError as error:
        return Outcome(error=f"{type(error).__name__}: {error}")
    return Outcome(status_code=status_code, error="" if 200 <= status_code < 300 else f"HTTP {status_code}")


def sign(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: "v1," and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}".

    Written out here rather than taken from the standardwebhooks package:
    it is these few lines of the standard library, and the package is one
    more dependency to keep for them (the tests verify with it).
    """
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def record(delivery: Delivery, outcome: Outcome) -> datetime | None:
    """Record an attempt's outcome on a claimed delivery; returns when to try again, if it will be.

    Recorded only while the claim is still this worker's (its mark is
    unchanged); otherwise another worker has it and records its own.
    """
    now = timezone.now()
    changes = {"last_status_code": outcome.status_code, "last_error": outcome.error[:500]}
    retry_at = None
    if outcome.delivered:
        changes.update(status=Delivery.Status.DELIVERED, delivered_at=now)
    elif outcome.permanent or delivery.attempts >= MAX_ATTEMPTS:
        changes.update(status=Delivery.Status.FAILED)
    else:
        retry_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        changes.update(next_attempt_at=retry_at)
    held = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, next_attempt_at=delivery.next_attempt_at
    )
    if held.update(**changes) != 1:
        return None
    logger.info(
        "webhook %s to endpoint %s: attempt %s, %s",
        delivery.webhook_id, delivery.endpoint_id, delivery.attempts, changes.get("status", "to be retried"),
        extra={"webhook_id": delivery.webhook_id, "status_code": outcome.status_code, "outcome": outcome.error},
    )  # fmt: skip
    return retry_at


def backoff_seconds(attempts: int) -> float:
    """After the n-th failed attempt: 5 s doubling to an hour, with jitter over the upper half."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


def due_deliveries() -> list[int]:
    """Pending deliveries whose time has come, earliest first: the sweep's work list."""
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])


def prune_deliveries(*, now: datetime | None = None) -> int:
    """Delete delivered and failed deliveries older than RETENTION; returns how many."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = Delivery.objects.exclude(status=Delivery.Status.PENDING).filter(created_at__lt=cutoff).delete()
    return deleted


def _iso(moment: datetime | None) -> str | None:
    # As the API writes times (DRF's format): "Z" for UTC.
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
