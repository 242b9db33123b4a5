from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import User
from relaybot.codes import hash_code


def tokens_for_user(*, user: User) -> QuerySet[AuthToken]:
    """The account's own API tokens with their names and last use, newest first."""
    return AuthToken.objects.filter(user=user).select_related("label").order_by("-created")


def token_for_user(*, user: User, digest: str) -> AuthToken | None:
    """One of the account's own API tokens, with its name."""
    return tokens_for_user(user=user).filter(digest=digest).first()


def password_reset_user(*, token: str) -> User | None:
    """The account a reset link is for, while the link is unused and unexpired."""
    return User.objects.filter(
        password_reset_tokens__token_hash=hash_code(token),
        password_reset_tokens__used_at__isnull=True,
        password_reset_tokens__expires_at__gt=timezone.now(),
    ).first()
