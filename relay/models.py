from django.conf import settings
from django.db import models
from django.utils import timezone


class Message(models.Model):
    """A message accepted by the API: the row is the truth about its delivery."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="relayed_messages")
    # The chat chosen when the message was accepted; unlinking fails what is
    # still queued, so a message never reaches a chat linked later.
    chat = models.ForeignKey("telegram.Chat", on_delete=models.SET_NULL, null=True, blank=True)
    # The header the account's name made when the message was accepted: what
    # the chat is sent is header + text, fixed then, so a later rename
    # changes only later messages.
    header = models.TextField(blank=True)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Failed attempts so far; a 429 is Telegram pacing us, not a failure.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A long text goes out in parts; these record how far delivery got, so
    # a retry resumes after the last part Telegram accepted.
    parts_sent = models.PositiveIntegerField(default=0)
    telegram_message_ids = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The client's Idempotency-Key: a retried request returns this message.
    idempotency_key = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="relay_message_idempotency_key_unique",
            ),
        ]
        indexes = [
            # The history, newest first (id order is acceptance order: relay/throttling.py), and by status.
            models.Index(fields=["user", "-id"]),
            models.Index(fields=["user", "status", "-id"]),
            # The quota's count, date ranges, and the original route's order (time, then id).
            models.Index(fields=["user", "created_at", "id"]),
            models.Index(fields=["chat", "status", "id"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.status})"
