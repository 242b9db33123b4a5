from django.conf import settings
from django.db import models
from django.utils import timezone


class Integration(models.Model):
    """A send-only credential for one tool: a Gotify application token, an ntfy token, or a hook's secret.

    Only an HMAC of the secret is kept; it may only publish messages, to its
    destination if it has one (else the destination the request names, or
    the account's default).
    """

    class Kind(models.TextChoices):
        NTFY = "ntfy"
        GOTIFY = "gotify"
        WEBHOOK = "webhook"
        ALERTMANAGER = "alertmanager"
        GRAFANA = "grafana"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    # Removing the destination removes its integrations: they must not fall back to the default.
    destination = models.ForeignKey("relay.Destination", on_delete=models.CASCADE, null=True, blank=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    # A generic webhook's Django template over the JSON payload; empty: the JSON, pretty, in a code block.
    template = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Recorded at most once a minute, so use costs no write per message.
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.name} of {self.user_id}"
