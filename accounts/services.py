import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache, caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import ApiTokenLabel, PasswordResetToken, User
from relay import delivery
from relay import selectors as relay_selectors
from relay.destinations import fail_queued
from relay.models import Message
from relaybot import selectors as telegram_selectors
from relaybot import services as telegram_services
from relaybot.codes import hash_code
from relaybot.texts import text

logger = logging.getLogger(__name__)

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


def issue_named_token(
    *, user: User, name: str, scope: str = ApiTokenLabel.Scope.FULL, destination_id: int | None = None
) -> tuple[AuthToken, str]:
    """A new API token with a name to tell it apart; the plain value exists only in the return value.

    A send-only token may also be limited to one of the account's destinations.
    """
    if destination_id is not None and scope != ApiTokenLabel.Scope.SEND:
        raise ValueError("only a send-only token is limited to a destination")
    with transaction.atomic():
        token, plain = issue_token(user=user)
        ApiTokenLabel.objects.create(token=token, name=name.strip(), scope=scope, destination_id=destination_id)
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


def change_time_zone(*, user: User, time_zone: str) -> None:
    """The zone the cabinet shows times in (an IANA name, already checked); blank follows the browser."""
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])


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


# -- password reset through the linked chat ---------------------------------------------

# 256 random bits, URL-safe: 43 characters.
RESET_TOKEN_BYTES = 32


class ResetLinkInvalid(Exception):
    """The reset link is unknown, used, or expired."""


def request_password_reset(*, username: str, base_url: str) -> None:
    """Queue a reset link for the account's chat: the caller answers alike, and as fast, for any username."""
    from accounts.tasks import send_password_reset_task

    send_password_reset_task(username.strip(), base_url)


def send_password_reset(*, username: str, base_url: str) -> bool:
    """Send a one-time reset link to the account's linked, reachable chat; False if there is none.

    `base_url` is the service's public address (scheme and host); the link
    is stored only as an HMAC and replaces the account's earlier ones.
    """
    user = User.objects.filter(username__iexact=username).first()
    chat = telegram_selectors.chat_for_user(user=user) if user is not None else None
    if chat is None or chat.unreachable_reason:
        return False
    token = secrets.token_urlsafe(RESET_TOKEN_BYTES)
    with transaction.atomic():
        PasswordResetToken.objects.filter(user=user, used_at__isnull=True).delete()
        PasswordResetToken.objects.create(
            user=user, token_hash=hash_code(token), expires_at=timezone.now() + settings.PASSWORD_RESET_TTL
        )
    # The page that redeems it is the cabinet's.
    link = base_url.rstrip("/") + reverse("cabinet:password-reset-open", kwargs={"token": token})
    minutes = int(settings.PASSWORD_RESET_TTL.total_seconds() // 60)
    message = text(chat.language_code, "password_reset", username=user.username, minutes=minutes, link=link)
    return telegram_services.send_notice(chat_id=chat.chat_id, message=message)


def open_password_reset(*, token: str) -> str | None:
    """Swap a valid link's token for a new secret, returned for the browser that opened it; None if invalid.

    Conditional, like redeeming: of two browsers opening one link, one gets it.
    """
    secret = secrets.token_urlsafe(RESET_TOKEN_BYTES)
    swapped = PasswordResetToken.objects.filter(
        token_hash=hash_code(token), used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(token_hash=hash_code(secret))
    return secret if swapped == 1 else None


def reset_password(*, token: str, password: str) -> User:
    """Redeem a reset link: set the (already validated) password, or raise ResetLinkInvalid.

    Every session of the account ends with its old password hash, and its
    other reset links stop working.
    """
    now = timezone.now()
    token_hash = hash_code(token)
    with transaction.atomic():
        # Conditional: of two concurrent uses of one link, one changes the row.
        claimed = PasswordResetToken.objects.filter(
            token_hash=token_hash, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if claimed != 1:
            raise ResetLinkInvalid
        user = User.objects.get(password_reset_tokens__token_hash=token_hash)
        user.set_password(password)
        user.save(update_fields=["password"])
        PasswordResetToken.objects.filter(user=user, used_at__isnull=True).delete()
    return user


# -- deleting an account ----------------------------------------------------------------


def delete_account(*, user: User) -> None:
    """Remove the account with its destinations, API tokens and messages; the bot tells each chat.

    Nothing the account had queued is sent afterwards: its queued messages
    fail first, so delivery picks none of them; then a send already under
    way (one per destination at most) is waited for; then the rows go.
    """
    fail_queued(Message.objects.filter(user=user), "Not delivered: the account was deleted.")
    linked = list(relay_selectors.destinations_for_user(user=user))
    for destination in linked:
        if not delivery.hold_destination(destination.pk, wait=delivery.longest_send_seconds()):
            logger.warning("deleting account %s while a send to %s is still under way", user.pk, destination.pk)
    with transaction.atomic():
        for destination in linked:
            message = text(destination.language_code, "account_deleted", username=user.username)
            telegram_services.tell_chat(chat_id=destination.chat_id, message=message, thread_id=destination.thread_id)
        user.delete()
