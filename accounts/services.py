from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from knox.models import AuthToken

from accounts.models import User


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
