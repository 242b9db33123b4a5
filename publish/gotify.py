"""Gotify's `POST /message`, parsed into the one Draft that relay accepts.

The credential is a Gotify integration's secret, which tools call the
application token: `X-Gotify-Key`, `?token=`, or `Authorization: Bearer`.
The body is JSON or a form: `title`, `message`, `priority`, and `extras`
(JSON only) with `client::display.contentType` (`text/markdown` formats the
text) and `client::notification.click.url` (a button). Gotify's clients make
no sound for priorities 0 to 3, so those are sent silently; the others ring
as the destination is set to. Answers and errors are Gotify's shapes.
"""

import json
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from publish import selectors, services
from publish.models import Integration
from relay import services as relay_services
from relay.drafts import Draft
from relay.models import Message
from relay.services import is_link
from relay.validation import has_visible_character

# Gotify's Android client: 0 shows nothing, 1 to 3 an icon without a sound.
QUIET_PRIORITY = 3


class GotifyError(Exception):
    """An answer in Gotify's error shape."""

    def __init__(self, status: int, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def response(self) -> JsonResponse:
        body = {"error": HTTPStatus(self.status).phrase, "errorCode": self.status, "errorDescription": self.description}
        response = JsonResponse(body, status=self.status)
        if self.retry_after is not None:
            response["Retry-After"] = str(max(int(self.retry_after + 0.999), 1))
        return response


def authenticate(request: HttpRequest) -> Integration:
    """The Gotify integration whose secret the request carries; raises GotifyError 401."""
    scheme, _, bearer = request.headers.get("Authorization", "").strip().partition(" ")
    secret = (
        request.headers.get("X-Gotify-Key", "").strip()
        or request.GET.get("token", "").strip()
        or (bearer.strip() if scheme.lower() == "bearer" else "")
    )
    integration = selectors.integration_for_secret(secret, kinds=(Integration.Kind.GOTIFY,))
    if integration is None:
        raise GotifyError(401, "you need to provide a valid access token or user credentials to access this api")
    services.record_use(integration=integration)
    return integration


def fields(request: HttpRequest) -> dict:
    """The body's fields: JSON, or a form (urlencoded or multipart)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            raise GotifyError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise GotifyError(400, "the body must be a JSON object")
        return data
    return {key: request.POST.get(key) for key in ("title", "message", "priority") if key in request.POST}


def parse(data: dict) -> tuple[Draft, int | None]:
    """The Draft, and the priority as given."""
    message, title = data.get("message"), data.get("title") or ""
    if not isinstance(message, str) or not has_visible_character(message):
        raise GotifyError(400, "Field 'message' is required")
    if not isinstance(title, str):
        raise GotifyError(400, "Field 'title' must be a string")
    if len(message) > settings.MESSAGE_MAX_LENGTH:
        raise GotifyError(400, f"Field 'message' is at most {settings.MESSAGE_MAX_LENGTH} characters")
    priority = data.get("priority")
    if priority is not None and priority != "":
        try:
            priority = int(priority)
        except (TypeError, ValueError):
            raise GotifyError(400, "Field 'priority' must be a number") from None
        if isinstance(data.get("priority"), float | bool):
            raise GotifyError(400, "Field 'priority' must be a whole number")
    else:
        priority = None
    extras = data.get("extras") or {}
    if not isinstance(extras, dict):
        raise GotifyError(400, "Field 'extras' must be an object")
    display, notification = extras.get("client::display") or {}, extras.get("client::notification") or {}
    click = notification.get("click") if isinstance(notification, dict) else None
    url = click.get("url") if isinstance(click, dict) else None
    markdown = isinstance(display, dict) and display.get("contentType") == "text/markdown"
    draft = Draft(
        text=message,
        title=title,
        format="markdown" if markdown else "text",
        silent=True if priority is not None and priority <= QUIET_PRIORITY else None,
        click=url if isinstance(url, str) and is_link(url) else "",
    )
    return draft, priority


def answer(message: Message, integration: Integration, priority: int | None, extras: object) -> dict:
    """Gotify's message JSON."""
    body = {
        "id": message.pk,
        "appid": integration.pk,
        "message": message.text,
        "title": message.title,
        "priority": priority if priority is not None else 0,
        "date": message.created_at.isoformat().replace("+00:00", "Z"),
    }
    if extras:
        body["extras"] = extras
    return body


@csrf_exempt
def message_view(request: HttpRequest) -> HttpResponse:
    """`POST /message` with an application token."""
    try:
        if request.method != "POST":
            error = GotifyError(405, "only POST /message is offered: this server relays to Telegram").response()
            error["Allow"] = "POST"
            return error
        integration = authenticate(request)
        data = fields(request)
        draft, priority = parse(data)
        try:
            message = relay_services.accept(
                user=integration.user, draft=draft, only_destination_id=integration.destination_id
            )
        except relay_services.QuotaExceeded as exc:
            raise GotifyError(429, "too many messages this minute", retry_after=exc.retry_after) from None
        except relay_services.DraftInvalid as exc:
            raise GotifyError(400, f"Field '{exc.field}': {exc.message}") from None
        except relay_services.ChatNotLinked:
            raise GotifyError(409, "no Telegram chat is linked as the account's default destination") from None
        except relay_services.ChatUnreachable as exc:
            raise GotifyError(409, f"Telegram cannot reach the destination ({exc.reason}); link it again") from None
    except GotifyError as exc:
        return exc.response()
    return JsonResponse(answer(message, integration, priority, data.get("extras")))
