import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from accounts import throttling as login_throttle
from accounts.models import User
from accounts.services import record_token_use


class BearerTokenAuthentication(TokenAuthentication):
    """knox tokens, sent as `Authorization: Bearer <token>`; each use is noted, at most once a minute per token."""

    def authenticate_credentials(self, token):
        user, auth_token = super().authenticate_credentials(token)
        record_token_use(token=auth_token)
        return user, auth_token


class CachedBasicAuthentication(BasicAuthentication):
    """HTTP Basic that pays for a PBKDF2 check once per cache period.

    A verified credential is remembered under an HMAC of the username, the
    password and the stored password hash: changing the password changes the
    key, so an old password stops working at once, and a wrong password is
    never stored, so it is checked in full every time. Failed checks count
    towards the login throttle (accounts/throttling.py), asked before hashing.
    """

    def authenticate_credentials(self, userid, password, request=None):
        user = get_user_model().objects.filter(username__iexact=userid).first()
        if user is not None and user.is_active and cache.get(self._cache_key(user, password)):
            return (user, None)
        address = login_throttle.client_address(request)
        if (wait := login_throttle.check_login_allowed(userid, address)) is not None:
            raise exceptions.Throttled(wait, detail="Too many failed logins.")
        if user is None or not user.is_active:
            # Hash anyway, so an unknown username takes as long as a known one.
            get_user_model()().set_password(password)
            login_throttle.record_login_failure(userid, address)
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        if not user.check_password(password):
            login_throttle.record_login_failure(userid, address)
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        login_throttle.record_login_success(userid, address)
        # check_password may have upgraded the hash; key on what is stored now.
        cache.set(self._cache_key(user, password), True, settings.BASIC_AUTH_CACHE_SECONDS)
        return (user, None)

    @staticmethod
    def _cache_key(user: User, password: str) -> str:
        message = f"{user.pk}\0{user.password}\0{password}".encode()
        digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
        return f"basic-auth:{digest}"
