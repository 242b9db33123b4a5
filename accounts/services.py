from datetime import timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache, caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import ApiTokenLabel, User

# How precisely a token's last use is known: one write per token per this period at most.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def register_user(*, username: str, password: str, name: str = "") -> User:
    """Create an account; raises ValidationError keyed by field."""
    username = username.strip()
    name = name.strip() or username
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["A user with that username already exists."]})
    candidate = User(username=username, name=name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:
        # Two sign-ups racing for one name: the unique index decides.
        raise ValidationError({"username": ["A user with that username already exists."]}) from exc
    return candidate


def log_in(*, request: HttpRequest | None, username: str, password: str) -> tuple[AuthToken, str] | None:
    """Check the credentials and issue a new API token, or return None."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        return None
    return issue_token(user=user)


def issue_token(*, user: User) -> tuple[AuthToken, str]:
    """A new API token; the plain value exists only in the return value."""
    return AuthToken.objects.create(user)


def revoke_token(*, token: AuthToken) -> None:
    token.delete()


def issue_named_token(*, user: User, name: str) -> tuple[AuthToken, str]:
    """A new API token with a name to tell it apart; the plain value exists only in the return value."""
    with transaction.atomic():
        token, plain = issue_token(user=user)
        ApiTokenLabel.objects.create(token=token, name=name.strip())
    return token, plain


def revoke_user_token(*, user: User, digest: str) -> bool:
    """Revoke one of the account's own tokens; False if it has none by that digest."""
    deleted, _ = AuthToken.objects.filter(user=user, digest=digest).delete()
    return deleted > 0


def revoke_all_tokens(*, user: User) -> int:
    """Revoke every API token of the account; returns how many there were."""
    return AuthToken.objects.filter(user=user).delete()[1].get(AuthToken._meta.label, 0)


def record_token_use(*, token: AuthToken) -> None:
    """Note that the token was just used, writing at most once per TOKEN_USE_RESOLUTION per token."""
    key, period = f"token-used:{token.digest[:40]}", TOKEN_USE_RESOLUTION.total_seconds()
    # This process's memory first: with Redis as the shared cache, asking
    # it alone would be a round trip on every authenticated request.
    if not caches["local"].add(key, True, period) or not cache.add(key, True, period):
        return
    now = timezone.now()
    if ApiTokenLabel.objects.filter(token=token).update(last_used_at=now):
        return
    # A token issued by logging in through the API has no label yet.
    try:
        with transaction.atomic():
            ApiTokenLabel.objects.create(token=token, last_used_at=now)
    except IntegrityError:
        # Created meanwhile by a concurrent request, or the token was revoked: either way nothing to add.
        pass


def change_name(*, user: User, name: str) -> None:
    user.name = name.strip() or user.username
    user.save(update_fields=["name"])


def change_password(*, user: User, password: str, revoke_tokens: bool = False) -> int:
    """Set a new (already validated) password; with revoke_tokens, revoke every API token too.

    Django ties each session to the password hash, so sessions elsewhere end
    with the change; the caller keeps its own with update_session_auth_hash.
    Returns the number of tokens revoked.
    """
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        return revoke_all_tokens(user=user) if revoke_tokens else 0
