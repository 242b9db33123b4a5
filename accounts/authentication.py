import binascii
import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db.models import FilteredRelation, Q
from django.utils.translation import gettext as _
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from accounts import throttling as login_throttle
from accounts.hashers import hashing_slot
from accounts.models import User
from accounts.services import record_token_use
from config.prepared import Placeholder, PreparedQuery
from relay.selectors import remember_default_destination

TOKEN_KEY = Placeholder("token_key")
USERNAME = Placeholder("username")

# The token with its account, its scope and the account's default
# destination (sending a message needs it next): one query, its SQL built
# once per connection (config/prepared.py).
_tokens_with_key = PreparedQuery(
    lambda key: (
        AuthToken.objects.filter(token_key=key)
        .annotate(
            default_destination=FilteredRelation("user__destinations", condition=Q(user__destinations__is_default=True))
        )
        .select_related("user", "label", "default_destination")
    ),
    TOKEN_KEY,
)

# The account by its name as registered, with its default destination, the
# same way. Names are unique in any case (accounts/models.py), so this finds
# the one account that `username__iexact` would.
_users_named = PreparedQuery(
    lambda name: (
        User.objects.filter(username=name)
        .annotate(default_destination=FilteredRelation("destinations", condition=Q(destinations__is_default=True)))
        .select_related("default_destination")
    ),
    USERNAME,
)


class BearerTokenAuthentication(TokenAuthentication):
    """knox tokens, sent as `Authorization: Bearer <token>`; each use is noted, at most once a minute per token."""

    def authenticate_credentials(self, token):
        if knox_settings.TOKEN_TTL is not None:
            user, auth_token = super().authenticate_credentials(token)
        else:
            user, auth_token = self._authenticate_lasting(token)
        record_token_use(token=auth_token)
        return user, auth_token

    def _authenticate_lasting(self, token: bytes) -> tuple[User, AuthToken]:
        """knox's check for tokens that never expire, in one query.

        knox reads every token of the account on each request to delete
        expired ones, which with no TOKEN_TTL never exist. The token's
        label, which holds its scope, and the account's default destination
        come in the same query.
        """
        try:
            text = token.decode()
            digest = hash_token(text)
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        for auth_token in _tokens_with_key(text[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if hmac.compare_digest(digest, auth_token.digest):
                user, auth_token = self.validate_user(auth_token)
                # None (no attribute at all) when the account has no default.
                remember_default_destination(user, getattr(auth_token, "default_destination", None))
                return user, auth_token
        raise exceptions.AuthenticationFailed(_("Invalid token."))


class CachedBasicAuthentication(BasicAuthentication):
    """HTTP Basic that pays for a PBKDF2 check once per cache period.

    A verified credential is remembered under an HMAC of the username, the
    password and the stored password hash: changing the password changes the
    key, so an old password stops working at once, and a wrong password is
    never stored, so it is checked in full every time. Failed checks count
    towards the login limits (accounts/throttling.py), a slot taken before hashing.

    It is remembered in this process's memory: as the key carries the stored
    hash, nothing has to be shared to stay correct, and a shared cache would
    add a round trip to every request for one PBKDF2 check a process saves.
    """

    def authenticate_credentials(self, userid, password, request=None):
        user = self._account(userid)
        if user is not None and user.is_active and caches["local"].get(self._cache_key(user, password)):
            return (user, None)
        # The machine's hashing slot, then one in each failed-login count (accounts/hashers.py, throttling.py).
        with hashing_slot():
            try:
                attempt = login_throttle.reserve_login(userid, login_throttle.client_address(request))
            except login_throttle.LimitReached as exc:
                raise exceptions.Throttled(exc.wait, detail="Too many failed logins.") from None
            with attempt:
                if user is None or not user.is_active:
                    # Hash anyway, so an unknown username takes as long as a known one.
                    get_user_model()().set_password(password)
                    raise exceptions.AuthenticationFailed("Invalid username/password.")
                if not user.check_password(password):
                    raise exceptions.AuthenticationFailed("Invalid username/password.")
        attempt.succeeded()
        # check_password may have upgraded the hash; key on what is stored now.
        caches["local"].set(self._cache_key(user, password), True, settings.BASIC_AUTH_CACHE_SECONDS)
        return (user, None)

    @staticmethod
    def _account(userid: str) -> User | None:
        for user in _users_named(userid):
            remember_default_destination(user, getattr(user, "default_destination", None))
            return user
        # Written in another case than registered.
        return get_user_model().objects.filter(username__iexact=userid).first()

    @staticmethod
    def _cache_key(user: User, password: str) -> str:
        message = f"{user.pk}\0{user.password}\0{password}".encode()
        digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
        return f"basic-auth:{digest}"
