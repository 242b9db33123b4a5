from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts.permissions import send_only_destination_id
from config.parsers import FormOrTextParser, JSONParser, PlainTextParser
from relay import destinations, revisions, selectors, services, waiting
from relay.drafts import Draft
from relay.labels import LabelInvalid, check_label
from relay.models import Destination, Message
from relay.serializers import (
    AcceptedOutput,
    DestinationLinkInput,
    DestinationLinkOutput,
    DestinationOutput,
    DestinationUpdateInput,
    MessageDetailQuery,
    MessageInput,
    MessageListQuery,
    MessageOutput,
    MessagePageOutput,
    MessageTextField,
    SentCompatInput,
    SentCompatOutput,
    SentCompatQuery,
    sent_compat_json,
)
from relaybot import selectors as telegram_selectors
from relaybot import services as telegram_services

BAD_QUERY = OpenApiResponse(
    OpenApiTypes.OBJECT, description="A query parameter is not understood: each one named with its problems."
)
ErrorOutput = inline_serializer("RelayError", {"detail": serializers.CharField(), "code": serializers.CharField()})


def _accept(request, draft: Draft, to: str | int | None = None) -> Response | Message:
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 255 or not key.isprintable() or not key.isascii():
        raise serializers.ValidationError({"Idempotency-Key": ["At most 255 printable ASCII characters."]})
    only = send_only_destination_id(request.auth)
    try:
        return services.accept(user=request.user, draft=draft, idempotency_key=key, to=to, only_destination_id=only)
    except services.QuotaExceeded as exc:
        # DRF's throttled answer: 429 with Retry-After.
        raise exceptions.Throttled(wait=exc.retry_after) from None
    except services.DraftInvalid as exc:
        raise serializers.ValidationError({exc.field: [exc.message]}) from None
    except services.DestinationNotFound:
        raise UnknownDestination(to) from None
    except services.DestinationNotAllowed:
        body = {"detail": "This API token may send only to its own destination.", "code": "destination_not_allowed"}
        return Response(body, status=status.HTTP_403_FORBIDDEN)
    except services.ChatNotLinked:
        body = {
            "detail": "No Telegram chat is linked as this account's default destination. Link one first "
            "(POST /api/v1/telegram/link/), or name a destination with `to`.",
            "code": "chat_not_linked",
        }
    except services.ChatUnreachable as exc:
        body = {
            "detail": f"Telegram cannot reach this destination ({exc.reason}). Link the chat again to resume.",
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
    accepts_messages = True
    # JSON, a form, or the text alone: `curl -d 'Backup done' -u alice:pw .../api/v1/messages/`.
    parser_classes = [JSONParser, FormOrTextParser, PlainTextParser]

    @extend_schema(
        # A form, or a bare text (the message itself, for curl), is taken too; only JSON can carry every field.
        request={"application/json": MessageInput},
        responses={202: AcceptedOutput, 403: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput},
        tags=["messages"],
        summary="Send a message to one of your destinations (the default unless `to` names another)",
        description=QUOTA_DESCRIPTION,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        accepted = _accept(request, data.draft(), data.validated_data.get("to"))
        if isinstance(accepted, Response):
            return accepted
        return Response(AcceptedOutput(accepted).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="api_v1_messages_list",
        parameters=[MessageListQuery],
        responses={200: MessagePageOutput, 400: BAD_QUERY, 404: ErrorOutput},
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
        destination = None
        if "destination" in params:
            destination = named_destination(request.user, params["destination"])
        page = selectors.message_page(
            destination=destination,
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


class MessageEditInput(serializers.Serializer):
    text = MessageTextField(help_text="The new text, written as the original was (its `format`); the title is kept.")


class MessageDetailApi(APIView):
    @extend_schema(
        parameters=[MessageDetailQuery],
        responses={200: MessageOutput, 400: BAD_QUERY},
        tags=["messages"],
        summary="One of your messages; with `wait`, once it is answered, sent or failed",
    )
    def get(self, request, message_id: int):
        query = MessageDetailQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        message = selectors.message_for_user(user=request.user, message_id=message_id)
        if message is None:
            raise Http404
        seconds = query.validated_data.get("wait", 0)
        if seconds and not waiting.is_settled(message):
            waiting.wait(message.pk, seconds)
            message.refresh_from_db()
        return Response(MessageOutput(message).data)

    @extend_schema(
        request=MessageEditInput,
        responses={
            202: MessageOutput,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The text is not valid, or needs more Telegram messages than the original went out as "
                "(Telegram cannot add messages by editing).",
            ),
            409: ErrorOutput,
        },
        tags=["messages"],
        summary="Edit the text of a sent message in the chat",
        description="Every Telegram message it went out as is edited, in the destination's order and with the "
        "same retries as sending, the header kept; parts the new text no longer needs are deleted. The message "
        "shows the new text once Telegram has it, or in `error` why it could not. A message not yet sent, failed, "
        "cancelled or deleted answers 409 (cancel a queued one and send the new text instead).",
    )
    def patch(self, request, message_id: int):
        message = selectors.message_for_user(user=request.user, message_id=message_id)
        if message is None:
            raise Http404
        data = MessageEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message = revisions.edit_message(message=message, text=data.validated_data["text"])
        except services.DraftInvalid as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        except revisions.TooManyParts as exc:
            raise serializers.ValidationError({"text": [str(exc)]}) from None
        except revisions.NotEditable as exc:
            body = {"detail": str(exc), "code": "not_editable"}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(MessageOutput(message).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(MessageOutput, description="A queued message, now cancelled."),
            202: OpenApiResponse(MessageOutput, description="A sent message, whose deletion from the chat is queued."),
            409: ErrorOutput,
        },
        tags=["messages"],
        summary="Delete a sent message from the chat, or cancel one not sent yet",
        description="A queued or scheduled message becomes `cancelled` and is never sent. A sent one is deleted "
        "from the chat, every Telegram message it went out as, in the destination's order and with the same "
        "retries as sending, and becomes `deleted`; Telegram lets a bot delete its messages only within 48 hours, "
        "and past that `error` says so. One failed, cancelled, or in the middle of being sent answers 409.",
    )
    def delete(self, request, message_id: int):
        message = selectors.message_for_user(user=request.user, message_id=message_id)
        if message is None:
            raise Http404
        try:
            message, queued = revisions.delete_message(message=message)
        except services.NotCancellable as exc:
            body = {"detail": str(exc), "code": "not_cancellable"}
            return Response(body, status=status.HTTP_409_CONFLICT)
        answer = status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK
        return Response(MessageOutput(message).data, status=answer)


class SentCompatApi(APIView):
    """`/message/sent` of the original assignment."""

    accepts_messages = True

    @extend_schema(
        request=SentCompatInput,
        responses={202: SentCompatOutput, 403: ErrorOutput, 409: ErrorOutput},
        tags=["assignment routes"],
        summary="Send a message to your Telegram chat (original route)",
        description=QUOTA_DESCRIPTION,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        data = SentCompatInput(data=request.data)
        data.is_valid(raise_exception=True)
        accepted = _accept(request, Draft(text=data.validated_data["content"]))
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


LABEL_TAKEN = OpenApiResponse(ErrorOutput, description="Another of your destinations has this label.")


class DestinationListApi(APIView):
    @extend_schema(responses=DestinationOutput(many=True), tags=["destinations"], summary="Your destinations")
    def get(self, request):
        return Response(DestinationOutput(selectors.destinations_for_user(user=request.user), many=True).data)

    @extend_schema(
        request=DestinationLinkInput,
        responses={201: DestinationLinkOutput, 409: LABEL_TAKEN},
        tags=["destinations"],
        summary="Link a new destination: a private chat, a group, a forum topic or a channel",
        description="Returns a single-use code and the ways to use it: `private_link` for a private chat, "
        "`group_link` to pick a group, and `start_command` to send in a group or topic the bot is in, or to post "
        "in a channel where the bot is an administrator allowed to post.",
    )
    def post(self, request):
        data = DestinationLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        label = data.validated_data.get("label", "")
        if label:
            _check_label(request.user, label)
        link_code, code = telegram_services.create_link_code(user=request.user, label=label)
        body = {
            "code": code,
            "label": label,
            "expires_at": link_code.expires_at,
            "private_link": telegram_selectors.deep_link(code),
            "group_link": telegram_selectors.group_link(code),
            "start_command": telegram_selectors.start_command(code),
        }
        return Response(DestinationLinkOutput(body).data, status=status.HTTP_201_CREATED)


class UnknownDestination(exceptions.APIException):
    """A destination named (by `to`, a filter, a token or an integration) that the account does not have."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "destination_not_found"

    def __init__(self, name: object = None) -> None:
        super().__init__()
        called = "that" if name is None else repr(name)
        # As the other conflicts read: a detail and a code.
        self.detail = {"detail": f"None of your destinations is called {called}.", "code": self.default_code}


def named_destination(user, name: str | int) -> Destination:
    """The account's destination `name` names; raises UnknownDestination (404)."""
    destination = selectors.destination_named(user=user, to=name)
    if destination is None:
        raise UnknownDestination
    return destination


class LabelTaken(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Another of your destinations has this label."
    default_code = "label_taken"

    def __init__(self) -> None:
        super().__init__()
        # As the other conflicts read: a detail and a code.
        self.detail = {"detail": self.default_detail, "code": self.default_code}


def _check_label(user, label: str, destination: Destination | None = None) -> None:
    try:
        check_label(label)
    except LabelInvalid as exc:
        raise serializers.ValidationError({"label": [str(exc)]}) from None
    clash = selectors.destination_named(user=user, to=label)
    if clash is not None and clash != destination and clash.label.lower() == label.lower():
        raise LabelTaken


class DestinationDetailApi(APIView):
    def _destination(self, request, destination_id: int) -> Destination:
        destination = selectors.destination_for_user(user=request.user, destination_id=destination_id)
        if destination is None:
            raise Http404
        return destination

    @extend_schema(responses=DestinationOutput, tags=["destinations"], summary="A destination")
    def get(self, request, destination_id: int):
        return Response(DestinationOutput(self._destination(request, destination_id)).data)

    @extend_schema(
        request=DestinationUpdateInput,
        responses={200: DestinationOutput, 409: LABEL_TAKEN},
        tags=["destinations"],
        summary="Rename a destination, make it the default, or change its header, silence or bundling",
        description="Header and silence apply to messages accepted from then on.",
    )
    def patch(self, request, destination_id: int):
        destination = self._destination(request, destination_id)
        data = DestinationUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        if "label" in changes:
            _check_label(request.user, changes["label"], destination)
        try:
            destinations.update(destination=destination, **changes)
        except destinations.LabelTaken:
            raise LabelTaken from None
        return Response(DestinationOutput(destination).data)

    @extend_schema(
        request=None,
        responses={204: None},
        tags=["destinations"],
        summary="Remove a destination",
        description="What is still queued for it fails, API tokens limited to it stop working, "
        "and the bot says so in the chat.",
    )
    def delete(self, request, destination_id: int):
        destination = self._destination(request, destination_id)
        telegram_services.remove_destination(destination=destination, notify=True)
        return Response(status=status.HTTP_204_NO_CONTENT)
