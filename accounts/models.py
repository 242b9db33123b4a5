from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class CaseInsensitiveUserManager(UserManager):
    def get_by_natural_key(self, username: str) -> "User":
        return self.get(username__iexact=username)


class User(AbstractUser):
    """An account; `name` is how the bot addresses its owner."""

    name = models.CharField(max_length=150)
    # An IANA zone name for the cabinet's times; blank follows the browser's zone.
    time_zone = models.CharField(max_length=64, blank=True)

    objects = CaseInsensitiveUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username


class ApiTokenLabel(models.Model):
    """What knox's AuthToken does not record: a name, a scope, and when it was last used.

    A token without a row here may do everything its account may.
    """

    class Scope(models.TextChoices):
        # Everything the account may do through the API.
        FULL = "full"
        # Send messages and nothing else: no history, no settings, no links.
        SEND = "send"

    token = models.OneToOneField("knox.AuthToken", on_delete=models.CASCADE, primary_key=True, related_name="label")
    name = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.FULL)
    # Set on a send-only token that may send only there. Removing the
    # destination deletes its tokens first (relay/destinations.py); RESTRICT
    # keeps anything else from leaving such a token unlimited.
    destination = models.ForeignKey("relay.Destination", on_delete=models.RESTRICT, null=True, blank=True)
    # Recorded at most once a minute per token, so use costs no write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name or "API token"


class PasswordResetToken(models.Model):
    """A one-time link to choose a new password, sent to the account's Telegram chat.

    Only an HMAC of the token is stored; redeeming it is a conditional UPDATE
    of `used_at`, so of two concurrent uses one wins.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_reset_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"password reset {self.pk} of {self.user_id}"
