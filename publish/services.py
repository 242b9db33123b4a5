import secrets
from datetime import timedelta

from django.core.cache import caches
from django.utils import timezone

from accounts.models import User
from publish.models import Integration
from relay.models import Destination
from relaybot.codes import hash_code

# 256 bits, URL-safe: it stands in a hook's URL and in Gotify's and ntfy's token fields.
SECRET_BYTES = 32
# How precisely an integration's last use is known: one write per this period at most.
USE_RESOLUTION = timedelta(minutes=1)


def create_integration(
    *, user: User, kind: str, name: str, destination: Destination | None = None, template: str = ""
) -> tuple[Integration, str]:
    """A new integration; the secret exists only in the return value."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    integration = Integration.objects.create(
        user=user,
        kind=kind,
        name=name.strip(),
        destination=destination,
        template=template,
        secret_hash=hash_code(secret),
    )
    return integration, secret


def revoke_integration(*, user: User, integration_id: int) -> bool:
    deleted, _ = Integration.objects.filter(user=user, pk=integration_id).delete()
    return deleted > 0


def record_use(*, integration: Integration) -> None:
    """Note that the integration was just used, writing at most once per USE_RESOLUTION."""
    if not caches["local"].add(f"integration-used:{integration.pk}", True, USE_RESOLUTION.total_seconds()):
        return
    Integration.objects.filter(pk=integration.pk).update(last_used_at=timezone.now())
