from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from relay import selectors, services
from relay.models import Message
from relay.serializers import (
    AcceptedOutput,
    MessageInput,
    MessageListQuery,
    MessageOutput,
    MessagePageOutput,
    SentCompatInput,
    SentCompatOutput,
    SentCompatQuery,
    sent_compat_json,
)

BAD_QUERY = OpenApiResponse(
    OpenApiTypes.OBJECT, description="A query parameter is not understood: each one named with its problems."
)
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

    @extend_schema(
        operation_id="api_v1_messages_list",
        parameters=[MessageListQuery],
        responses={200: MessagePageOutput, 400: BAD_QUERY},
        tags=["messages"],
        summary="Your messages, newest first",
        description=f"{api_settings.PAGE_SIZE} a page. Follow `next` for the page after: it keeps the filters "
        "and costs the same at any depth, and messages that arrive meanwhile never make a message repeat or go "
        "missing. There are no page numbers and no total count.",
    )
    def get(self, request):
        if "page" in request.query_params:
            # Page numbers went with the count; a client still sending them would get page 1 forever.
            raise serializers.ValidationError({"page": ["Page numbers are gone: follow `next` instead."]})
        query = MessageListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        starts = [params[name] for name in ("cursor", "before") if name in params]
        page = selectors.message_page(
            user=request.user,
            size=api_settings.PAGE_SIZE,
            below=min(starts, default=None),
            status=params.get("status", ""),
            created_after=params.get("created_after"),
            created_before=params.get("created_before"),
            search=params.get("q", ""),
        )
        next_url = None
        if page.next_below is not None:
            next_url = remove_query_param(request.build_absolute_uri(), "before")
            next_url = replace_query_param(next_url, "cursor", page.next_below)
        return Response({"next": next_url, "results": MessageOutput(page.messages, many=True).data})


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
        parameters=[SentCompatQuery],
        responses={200: SentCompatOutput(many=True), 400: BAD_QUERY},
        tags=["assignment routes"],
        summary="Your messages (original route)",
        description="Every message of yours, newest first, as one JSON array streamed as it is read, "
        "so any history arrives whole. For pages instead, `limit` with `before`: the next page "
        "starts before the id of the last message received.",
    )
    def get(self, request):
        query = SentCompatQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        before, limit = query.validated_data.get("before"), query.validated_data.get("limit")
        if before is None:
            messages = selectors.messages_for_user(user=request.user)
        else:
            messages = selectors.messages_before(user=request.user, message_id=before)
        if limit is not None:
            messages = messages[:limit]
        return StreamingHttpResponse(sent_compat_json(messages), content_type="application/json")
