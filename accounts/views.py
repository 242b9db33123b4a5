from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import selectors, services
from accounts import throttling as login_throttle
from accounts.hashers import hashing_slot
from accounts.models import ApiTokenLabel
from accounts.serializers import (
    AccountDeleteInput,
    LoginInput,
    NamedTokenInput,
    NamedTokenOutput,
    NewTokenOutput,
    RegisterInput,
    SignupInput,
    TokenOutput,
    UserOutput,
)
from config.schema import Error as ErrorOutput
from config.schema import ValidationError as ValidationErrorOutput
from relay.views import named_destination

INVALID_LOGIN = {"detail": "Invalid username or password."}


def _register(request, input_class) -> Response:
    data = input_class(data=request.data)
    data.is_valid(raise_exception=True)
    # The machine's hashing slot first: while it is busy hashing, a sign-up costs nothing more than this.
    with hashing_slot():
        # Taken before the password is hashed, given back if no account is made.
        try:
            signup = login_throttle.reserve_signup(login_throttle.client_address(request))
        except login_throttle.LimitReached as exc:
            raise exceptions.Throttled(exc.wait, detail="Too many sign-ups from this address.") from None
        try:
            user = services.register_user(**data.validated_data)
        except DjangoValidationError as exc:
            signup.give_back()
            raise serializers.ValidationError(exc.message_dict) from exc
        except BaseException:
            signup.give_back()
            raise
    return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


def _log_in(request) -> Response | tuple[AuthToken, str]:
    data = LoginInput(data=request.data)
    data.is_valid(raise_exception=True)
    username, address = data.validated_data["username"], login_throttle.client_address(request)
    # The machine's hashing slot, then one in each failed-login count: a refused guess costs nothing.
    with hashing_slot():
        try:
            attempt = login_throttle.reserve_login(username, address)
        except login_throttle.LimitReached as exc:
            raise exceptions.Throttled(exc.wait, detail="Too many failed logins.") from None
        with attempt:
            issued = services.log_in(request=request._request, **data.validated_data)
    if issued is None:
        return Response(INVALID_LOGIN, status=status.HTTP_401_UNAUTHORIZED)
    attempt.succeeded()
    return issued


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=RegisterInput, responses={201: UserOutput}, auth=[], tags=["auth"], summary="Create an account"
    )
    def post(self, request):
        return _register(request, RegisterInput)


class TokenApi(APIView):
    throttle_scope = "login"
    # Logging out revokes only the token the request carries: a send-only one may too.
    revokes_own_token = True

    def get_authenticators(self):
        # Logging in looks only at the body: a stale token left in the
        # Authorization header must not turn it into a 401.
        logging_in = self.request is not None and self.request.method == "POST"
        return [] if logging_in else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        request=LoginInput,
        responses={200: TokenOutput, 401: ErrorOutput},
        auth=[],
        tags=["auth"],
        summary="Log in: exchange username and password for an API token",
    )
    def post(self, request):
        issued = _log_in(request)
        if isinstance(issued, Response):
            return issued
        token, plain = issued
        return Response({"token": plain, "expiry": token.expiry, "user": UserOutput(token.user).data})

    @extend_schema(
        request=None,
        responses={204: None, 400: ErrorOutput},
        tags=["auth"],
        summary="Log out: revoke the bearer token this request carries",
    )
    def delete(self, request):
        if not isinstance(request.auth, AuthToken):
            return Response({"detail": "Log out with the bearer token you want to revoke."}, status=400)
        services.revoke_token(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountDeleteApi(APIView):
    # POST, not DELETE: a DELETE's body has no defined meaning (OpenAPI 3.0 cannot
    # describe one, and proxies may drop it), and the password must travel in the body.
    @extend_schema(
        request=AccountDeleteInput,
        responses={204: None, 400: ValidationErrorOutput},
        tags=["auth"],
        summary="Delete the account, with its chat link, API tokens and messages",
        description=(
            "Confirm with the account's password. Messages still queued are not sent, and the bot tells the "
            "linked chat it was unlinked. A wrong password counts as a failed login."
        ),
    )
    def post(self, request):
        data = AccountDeleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        user, address = request.user, login_throttle.client_address(request)
        # The password is checked as at login, and counts with login's failures.
        try:
            attempt = login_throttle.reserve_login(user.username, address)
        except login_throttle.LimitReached as exc:
            raise exceptions.Throttled(exc.wait, detail="Too many failed logins.") from None
        with attempt:
            right = user.check_password(data.validated_data["password"])
        if not right:
            raise serializers.ValidationError({"password": ["Wrong password."]})
        attempt.succeeded()
        services.delete_account(user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignupCompatApi(APIView):
    """`POST /users/signup` of the original assignment."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=SignupInput,
        responses={201: UserOutput},
        auth=[],
        tags=["assignment routes"],
        summary="Create an account (original route)",
    )
    def post(self, request):
        return _register(request, SignupInput)


class LoginCompatApi(APIView):
    """`POST /users/login` of the original assignment."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=LoginInput,
        responses={200: TokenOutput, 401: ErrorOutput},
        auth=[],
        tags=["assignment routes"],
        summary="Log in for an API token (original route)",
    )
    def post(self, request):
        issued = _log_in(request)
        if isinstance(issued, Response):
            return issued
        token, plain = issued
        return Response({"token": plain, "expiry": token.expiry, "user": UserOutput(token.user).data})


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login page: people sign in through the cabinet's, so every attempt counts in one set of limits.

    Nothing posted here is checked; the cabinet's login sends a staff member
    back to the admin page asked for.
    """
    if request.user.is_authenticated and not request.user.is_staff:
        # The cabinet would send them straight back here.
        raise PermissionDenied
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('cabinet:login')}?{urlencode({'next': next_url})}")


class NamedTokenListApi(APIView):
    @extend_schema(responses=NamedTokenOutput(many=True), tags=["auth"], summary="Your API tokens (never their values)")
    def get(self, request):
        return Response(NamedTokenOutput(selectors.tokens_for_user(user=request.user), many=True).data)

    @extend_schema(
        request=NamedTokenInput,
        responses={201: NewTokenOutput, 404: ErrorOutput},
        tags=["auth"],
        summary="A new API token: full, send-only, or send-only to one destination",
        description='The token is in this answer only. A CI job\'s token: `{"scope": "send", '
        '"destination": "ci"}` cannot read history or send anywhere else.',
    )
    def post(self, request):
        data = NamedTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        destination_id = None
        if "destination" in values:
            destination = named_destination(request.user, values["destination"])
            destination_id = destination.pk
        # A token limited to a destination may only send there, whatever scope was asked for.
        scope = ApiTokenLabel.Scope.SEND if destination_id is not None else values["scope"]
        token, plain = services.issue_named_token(
            user=request.user, name=values["name"], scope=scope, destination_id=destination_id
        )
        token = selectors.token_for_user(user=request.user, digest=token.digest)
        body = {**NamedTokenOutput(token).data, "token": plain}
        return Response(body, status=status.HTTP_201_CREATED)


class NamedTokenDetailApi(APIView):
    @extend_schema(request=None, responses={204: None, 404: ErrorOutput}, tags=["auth"], summary="Revoke an API token")
    def delete(self, request, token_id: str):
        if not services.revoke_user_token(user=request.user, digest=token_id):
            return Response({"detail": "No token of yours has this id."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
