from django.db.models import Prefetch, QuerySet

from accounts.models import User
from events.models import Delivery, Endpoint

# Deliveries listed with each endpoint, newest first.
RECENT_DELIVERIES = 10


def endpoints_for_user(*, user: User) -> QuerySet[Endpoint]:
    """The account's endpoints, newest first, each with its RECENT_DELIVERIES latest deliveries (`recent`)."""
    recent = Delivery.objects.order_by("-id")[:RECENT_DELIVERIES]
    return (
        Endpoint.objects.filter(user=user)
        .prefetch_related(Prefetch("deliveries", queryset=recent, to_attr="recent"))
        .order_by("-created_at", "-id")
    )
