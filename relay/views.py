from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from relay import selectors, services
from relay.models import Message
from relay.serializers import AcceptedOutput, MessageInput, MessageOutput, SentCompatInput, SentCompatOutput

ErrorOutput = inline_serializer("RelayError", {"detail": serializers.CharField(), "code": serializers.CharField()})


def _accept(request, text: str) -> Response | Message:
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 255 or not key.isprintable() or not key.isascii():
        raise serializers.ValidationError({"Idempotency-Key": ["At most 255 printable ASCII characters."]})
    try:
        return services.enqueue_message(user=request.user, text=text, idempotency_key=key)
    except services.QuotaExceeded as exc:
        # DRF's throttled answer: 429 with Retry-After.
        raise exceptions.Throttled(wait=exc.retry_after) from None
    except services.ChatNotLinked:
        body = {
            "detail": "No Telegram chat is linked to this account. Link one first: POST /api/v1/telegram/link/.",
            "code": "chat_not_linked",
        }
    except services.ChatUnreachable as exc:
        body = {
            "detail": f"Telegram cannot reach the linked chat ({exc.reason}). Link the chat again to resume.",
            "code": "chat_unreachable",
        }
    return Response(body, status=status.HTTP_409_CONFLICT)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    # As _accept() checks it.
    {"type": "string", "maxLength": 255, "pattern": "^[\\u0020-\\u007e]*$"},
    OpenApiParameter.HEADER,
    description="Repeat a request with the same key within 24 hours to get the first message back, "
    "without sending anything again.",
)
QUOTA_DESCRIPTION = (
    "Stored at once and delivered by the worker; follow `status` in the message list. "
    "Each account may submit a limited number of messages a minute (429 with `Retry-After` beyond it)."
)


class MessageListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        request=MessageInput,
        responses={202: AcceptedOutput, 409: ErrorOutput},
        tags=["messages"],
        summary="Send a message to your Telegram chat",
        description=QUOTA_DESCRIPTION,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        accepted = _accept(request, data.validated_data["text"])
        if isinstance(accepted, Response):
            return accepted
        return Response(AcceptedOutput(accepted).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=MessageOutput(many=True), tags=["messages"], summary="Your messages, newest first")
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.messages_for_user(user=request.user), request, view=self)
        return paginator.get_paginated_response(MessageOutput(page, many=True).data)


class MessageDetailApi(APIView):
    @extend_schema(responses=MessageOutput, tags=["messages"], summary="One of your messages")
    def get(self, request, message_id: int):
        message = selectors.message_for_user(user=request.user, message_id=message_id)
        if message is None:
            raise Http404
        return Response(MessageOutput(message).data)


class SentCompatApi(APIView):
    """`/message/sent` of the original assignment."""

    @extend_schema(
        request=SentCompatInput,
        responses={202: SentCompatOutput, 409: ErrorOutput},
        tags=["assignment routes"],
        summary="Send a message to your Telegram chat (original route)",
        description=QUOTA_DESCRIPTION,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        data = SentCompatInput(data=request.data)
        data.is_valid(raise_exception=True)
        accepted = _accept(request, data.validated_data["content"])
        if isinstance(accepted, Response):
            return accepted
        return Response(SentCompatOutput(accepted).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses=SentCompatOutput(many=True), tags=["assignment routes"], summary="Your messages (original route)"
    )
    def get(self, request):
        return Response(SentCompatOutput(selectors.messages_for_user(user=request.user), many=True).data)
