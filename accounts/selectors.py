from django.db.models import QuerySet
from knox.models import AuthToken

from accounts.models import User


def tokens_for_user(*, user: User) -> QuerySet[AuthToken]:
    """The account's own API tokens with their names and last use, newest first."""
    return AuthToken.objects.filter(user=user).select_related("label").order_by("-created")
