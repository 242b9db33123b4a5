from django.conf import settings
from django.db import models
from django.utils import timezone


class LinkCode(models.Model):
    """A one-time code that ties a Telegram chat to an account.

    A link code is made for an account and redeemed in the bot; a
    verification code is made by the bot for a chat and redeemed in the API.
    Only an HMAC of the code is stored.
    """

    class Kind(models.TextChoices):
        LINK = "link"
        VERIFY = "verify"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    code_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True)
    chat_id = models.BigIntegerField(null=True, blank=True)
    # The destination label the account asked for when making a link code.
    label = models.CharField(max_length=64, blank=True)
    chat_username = models.CharField(max_length=64, blank=True)
    chat_first_name = models.CharField(max_length=128, blank=True)
    chat_language_code = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} code {self.pk}"


class ProcessedUpdate(models.Model):
    """Update ids already handled: Telegram redelivers, the bot must not act twice."""

    update_id = models.BigIntegerField(primary_key=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"update {self.update_id}"
