import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from accounts.models import User


class BearerTokenAuthentication(TokenAuthentication):
    """knox tokens, sent as `Authorization: Bearer <token>`."""


class CachedBasicAuthentication(BasicAuthentication):
    """HTTP Basic that pays for a PBKDF2 check once per cache period.

    A verified credential is remembered under an HMAC of the username, the
    password and the stored password hash: changing the password changes the
    key, so an old password stops working at once, and a wrong password is
    never stored, so it is checked in full every time.
    """

    def authenticate_credentials(self, userid, password, request=None):
        user = get_user_model().objects.filter(username__iexact=userid).first()
        if user is None or not user.is_active:
            # Hash anyway, so an unknown username takes as long as a known one.
            get_user_model()().set_password(password)
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        key = self._cache_key(user, password)
        if cache.get(key):
            return (user, None)
        if not user.check_password(password):
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        # check_password may have upgraded the hash; key on what is stored now.
        cache.set(self._cache_key(user, password), True, settings.BASIC_AUTH_CACHE_SECONDS)
        return (user, None)

    @staticmethod
    def _cache_key(user: User, password: str) -> str:
        message = f"{user.pk}\0{user.password}\0{password}".encode()
        digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
        return f"basic-auth:{digest}"
