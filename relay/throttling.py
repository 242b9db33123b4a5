from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from relay import selectors
from relay.models import Message

WINDOW = timedelta(minutes=1)


class MessageQuotaThrottle(BaseThrottle):
    """At most MESSAGES_PER_MINUTE new messages per account.

    Counted from the messages table rather than a cache, so every web
    process and machine agrees on the count without a shared cache. A
    replayed Idempotency-Key creates nothing and is never refused.
    """

    def allow_request(self, request, view) -> bool:
        if request.method != "POST" or not request.user.is_authenticated:
            return True
        key = request.headers.get("Idempotency-Key", "")
        if key and selectors.message_for_idempotency_key(user=request.user, key=key):
            return True
        limit = settings.MESSAGES_PER_MINUTE
        since = timezone.now() - WINDOW
        count = selectors.message_count_since(user_id=request.user.pk, since=since)
        if count < limit:
            return True
        recent = Message.objects.filter(user=request.user, created_at__gt=since)
        # The quota frees up once enough of the recent messages age out.
        freeing = recent.order_by("created_at").values_list("created_at", flat=True)[count - limit]
        self._wait = max((freeing + WINDOW - timezone.now()).total_seconds(), 1)
        return False

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
