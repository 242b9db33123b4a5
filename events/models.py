from django.conf import settings
from django.db import models
from django.utils import timezone


class EventType(models.TextChoices):
    """What an endpoint may subscribe to."""

    MESSAGE_SENT = "message.sent"
    MESSAGE_FAILED = "message.failed"
    MESSAGE_ANSWERED = "message.answered"
    DESTINATION_UNREACHABLE = "destination.unreachable"


# Sent only to the endpoint it is asked for, whatever it subscribes to.
TEST_EVENT = "webhook.test"


class Endpoint(models.Model):
    """A URL of the account's that is sent the events it subscribes to, signed with its secret.

    The secret is kept as it is, not hashed: every delivery is signed with it.
    It is shown once, when the endpoint is made, and in no answer after.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    # Values of EventType.
    events = models.JSONField(default=list)
    # "whsec_" and the base64 of the key, as Standard Webhooks writes it.
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"endpoint {self.pk} of {self.user_id}"


class Delivery(models.Model):
    """One event for one endpoint: the row is the truth about its delivery, as a message's is."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32)
    # The event's `data`; the body adds its type and when it happened (created_at).
    payload = models.JSONField()
    # The webhook-id header: the same on every attempt, so a receiver can tell a repeat.
    webhook_id = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    # Attempts started so far, counted when a worker claims the row.
    attempts = models.PositiveIntegerField(default=0)
    # When a worker may take it next; a claim moves it on, so no other worker takes it meanwhile.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep's due rows, and an endpoint's recent deliveries.
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id} ({self.status})"
