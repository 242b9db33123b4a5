from django.db.models import QuerySet

from accounts.models import User
from publish.models import Integration
from relaybot.codes import hash_code


def integration_for_secret(secret: str, *, kinds: tuple[str, ...] | None = None) -> Integration | None:
    """The integration this secret belongs to (with its account and destination), of one of `kinds` if given."""
    if not secret or len(secret) > 256:
        return None
    found = Integration.objects.select_related("user", "destination").filter(secret_hash=hash_code(secret))
    if kinds is not None:
        found = found.filter(kind__in=kinds)
    integration = found.first()
    if integration is None or not integration.user.is_active:
        return None
    return integration


def integrations_for_user(*, user: User) -> QuerySet[Integration]:
    return Integration.objects.filter(user=user).select_related("destination").order_by("-created_at")
