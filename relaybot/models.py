from django.conf import settings
from django.db import models
from django.utils import timezone


class Chat(models.Model):
    """The Telegram private chat an account's messages are delivered to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_chat")
    # Telegram chat ids reach 52 bits.
    chat_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    language_code = models.CharField(max_length=16, blank=True)
    linked_at = models.DateTimeField(default=timezone.now)
    # Set when Telegram says the chat can no longer be reached (bot blocked,
    # user deactivated, chat not found); cleared by linking again.
    unreachable_reason = models.CharField(max_length=255, blank=True)
    # A delivery worker holds the chat while it sends, so one chat gets one
    # message at a time, in order; an expired lease is free again.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Pacing: when Telegram last accepted a message for this chat, and until
    # when it asked us (429) to leave the chat alone.
    last_sent_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    # When a delivery task is already scheduled to look at this chat: until
    # then no other task needs scheduling or enqueueing for it.
    next_turn_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"chat {self.chat_id} of {self.user_id}"

    @property
    def display_name(self) -> str:
        return f"@{self.username}" if self.username else self.first_name or str(self.chat_id)


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
