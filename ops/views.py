"""Probes and metrics for whoever runs the service.

Plain Django views, outside the REST API: no authentication (unless
METRICS_TOKEN is set for /metrics) and no place in the OpenAPI schema.
"""

import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from huey.contrib.djhuey import HUEY
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ops import metrics as ops_metrics
from relaybot.client import TelegramError, get_bot

logger = logging.getLogger(__name__)
# Per Bot API address: the answer is about that server (the token stays out of cache keys).
TELEGRAM_CHECK_CACHE_KEY = "ops:readyz:telegram:{url}"


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; touches nothing else."""
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """The database, the queue and the Bot API answer: 200 if all do, 503 if not."""
    checks = {"database": _check("database", _ping_database), "queue": _check("queue", _ping_queue)}
    key = TELEGRAM_CHECK_CACHE_KEY.format(url=settings.TELEGRAM_API_URL)
    checks["telegram"] = cache.get(key)
    if checks["telegram"] is None:
        # Remembered for a while, so frequent probes do not become frequent getMe calls.
        checks["telegram"] = _check("telegram", lambda: get_bot().get_me())
        cache.set(key, checks["telegram"], settings.READYZ_TELEGRAM_CACHE_SECONDS)
    ready = all(result["status"] == "ok" for result in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = JsonResponse({"detail": "This needs Authorization: Bearer <METRICS_TOKEN>."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(ops_metrics.render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_queue() -> None:
    HUEY.storage.queue_size()


def _check(name: str, ping: Callable[[], object]) -> dict:
    try:
        ping()
    except Exception as error:
        # Only the kind of error, or the Bot API's own description: an
        # exception's text can hold a URL, and Bot API URLs hold the token.
        reason = error.description if isinstance(error, TelegramError) else type(error).__name__
        logger.warning("readiness check %s failed: %s", name, reason, extra={"check": name})
        return {"status": "error", "error": reason}
    return {"status": "ok"}
