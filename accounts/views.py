from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts import throttling as login_throttle
from accounts.serializers import LoginInput, RegisterInput, SignupInput, TokenOutput, UserOutput
from config.schema import Error as ErrorOutput

INVALID_LOGIN = {"detail": "Invalid username or password."}


def _register(request, input_class) -> Response:
    data = input_class(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        user = services.register_user(**data.validated_data)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from exc
    return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


def _log_in(request) -> Response | tuple[AuthToken, str]:
    data = LoginInput(data=request.data)
    data.is_valid(raise_exception=True)
    username, address = data.validated_data["username"], login_throttle.client_address(request)
    # Asked before the password is hashed: a refused guess costs nothing.
    if (wait := login_throttle.check_login_allowed(username, address)) is not None:
        raise exceptions.Throttled(wait, detail="Too many failed logins.")
    issued = services.log_in(request=request._request, **data.validated_data)
    if issued is None:
        login_throttle.record_login_failure(username, address)
        return Response(INVALID_LOGIN, status=status.HTTP_401_UNAUTHORIZED)
    login_throttle.record_login_success(username, address)
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
