import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from relaybot import selectors, services
from relaybot.bot import handle_update
from relaybot.serializers import ChatOutput, LinkCodeOutput, LinkStatusOutput, VerifyCompatInput, VerifyInput

logger = logging.getLogger(__name__)
ErrorOutput = inline_serializer("TelegramError", {"detail": serializers.CharField()})


def _link_status(user) -> dict:
    chat = selectors.chat_for_user(user=user)
    return {"linked": chat is not None, "chat": ChatOutput(chat).data if chat else None}


class LinkApi(APIView):
    @extend_schema(
        request=None,
        responses={201: LinkCodeOutput},
        tags=["telegram"],
        summary="New link code and deep link for the bot",
        description="Open `deep_link`, or send `code` to the bot. Single use; earlier codes stop working.",
    )
    def post(self, request):
        link_code, code = services.create_link_code(user=request.user)
        body = {"code": code, "deep_link": selectors.deep_link(code), "expires_at": link_code.expires_at}
        return Response(LinkCodeOutput(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=LinkStatusOutput, tags=["telegram"], summary="Which chat is linked")
    def get(self, request):
        return Response(_link_status(request.user))

    @extend_schema(request=None, responses={204: None, 404: ErrorOutput}, tags=["telegram"], summary="Unlink the chat")
    def delete(self, request):
        if not services.unlink_chat(user=request.user, notify=True):
            return Response({"detail": "No chat is linked."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _verify(request, code: str) -> Response:
    try:
        services.link_by_verification_code(user=request.user, code=code)
    except services.CodeInvalid:
        raise serializers.ValidationError({"code": ["Invalid, used or expired verification code."]}) from None
    return Response(_link_status(request.user))


class VerifyApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verify"

    @extend_schema(
        request=VerifyInput,
        responses={200: LinkStatusOutput},
        tags=["telegram"],
        summary="Link the chat that received this verification code",
    )
    def post(self, request):
        data = VerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _verify(request, data.validated_data["code"])


class VerifyCompatApi(APIView):
    """`PATCH /bot/verify/` of the original assignment."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verify"

    @extend_schema(
        request=VerifyCompatInput,
        responses={200: LinkStatusOutput},
        tags=["assignment routes"],
        summary="Link the chat that received this verification code (original route)",
    )
    def patch(self, request):
        data = VerifyCompatInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            return _verify(request, data.validated_data["verification_code"])
        except serializers.ValidationError:
            raise serializers.ValidationError(
                {"verification_code": ["Invalid, used or expired verification code."]}
            ) from None


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    """Updates pushed by Telegram; authenticated by the secret set with setWebhook."""
    secret = settings.TELEGRAM_WEBHOOK_SECRET
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"detail": "Wrong or missing secret token."}, status=403)
    try:
        update = json.loads(request.body)
    except (ValueError, RecursionError):
        # Telegram redelivers on anything but 2xx; a body it sent that we
        # cannot read will not improve with redelivery.
        return JsonResponse({"ok": True})
    handle_update(update)
    return JsonResponse({"ok": True})
