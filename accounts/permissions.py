"""What an API token may do: its scope, checked on every API route."""

from knox.models import AuthToken
from rest_framework.permissions import BasePermission

from accounts.models import ApiTokenLabel


def token_label(auth: object) -> ApiTokenLabel | None:
    """The scope row of the request's token (loaded with it: accounts/authentication.py); None for full access."""
    if not isinstance(auth, AuthToken):
        return None
    try:
        return auth.label
    except ApiTokenLabel.DoesNotExist:
        return None


def send_only_destination_id(auth: object) -> int | None:
    """The one destination a send-only token may send to, if it is limited to one."""
    label = token_label(auth)
    return label.destination_id if label is not None else None


class TokenScope(BasePermission):
    """A send-only token may only send messages, and revoke itself.

    A view that accepts messages says so with `accepts_messages`; the one
    whose DELETE revokes the token it is called with, with `revokes_own_token`
    (a CI job cleans up after itself).
    """

    message = "This API token may only send messages (POST); it cannot read or change anything."

    def has_permission(self, request, view) -> bool:
        label = token_label(request.auth)
        if label is None or label.scope == ApiTokenLabel.Scope.FULL:
            return True
        if request.method == "DELETE" and getattr(view, "revokes_own_token", False):
            return True
        return request.method == "POST" and getattr(view, "accepts_messages", False)
