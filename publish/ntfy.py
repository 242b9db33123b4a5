"""ntfy's publishing API: `POST|PUT /<topic>`, and JSON to `/`, parsed into the one Draft that relay accepts.

Every parameter is read by `read_param`, as ntfy's server reads it: the X-
header, its short aliases, then the same names as query parameters (JSON
publishing gives its fields first). A topic is one of the account's
destination labels. The answer is ntfy's message JSON with 200; errors are
ntfy's `{"code", "http", "error"}`. Subscribing is not offered.

Credentials: the account's username and password (HTTP Basic, with the login
limits of every login), an API token (Bearer; a send-only one keeps its
destination), an ntfy integration's secret (Bearer, or as the password of
an empty username), each also as `?auth=`: base64 of the Authorization value.
"""

import base64
import binascii
import json
import math
import mimetypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from functools import partial

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from accounts.authentication import BearerTokenAuthentication, CachedBasicAuthentication
from accounts.models import User
from accounts.permissions import send_only_destination_id
from config.gunicorn_hooks import close_connection
from publish import selectors, services
from publish.topics import TOPIC_PATH
from relay import services as relay_services
from relay.drafts import MAX_FILENAME, Attachment, Button, Draft
from relay.models import Message
from relay.services import is_link
from relay.validation import has_visible_character

# ntfy's text when a message has none.
EMPTY_MESSAGE = "triggered"
ATTACHMENT_MESSAGE = "You received a file: {name}"
PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5} | {str(n): n for n in range(1, 6)}
# ntfy's min and low priority make no sound; the others ring as the destination is set to.
SILENT_PRIORITIES = (1, 2)
# ntfy's server limits on a delay.
MIN_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(days=3)
MAX_ACTIONS = 3
TRUE, FALSE = ("1", "yes", "true"), ("0", "no", "false")
# What a knox token looks like; anything else in a Bearer header is taken for an integration's secret.
API_TOKEN = re.compile(r"[0-9a-f]{64}")
_DURATION = re.compile(r"(?i)^(\d+)\s*(d|days?|h|hours?|m|mins?|minutes?|s|secs?|seconds?)$")
_GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
DOCS = "https://docs.ntfy.sh/publish/"


class NtfyError(Exception):
    """An answer in ntfy's error shape: `code` is ntfy's (HTTP status times 100 plus a number)."""

    def __init__(self, code: int, error: str, *, retry_after: float | None = None, link: str = "") -> None:
        super().__init__(error)
        self.code, self.error, self.retry_after, self.link = code, error, retry_after, link

    def response(self) -> JsonResponse:
        body = {"code": self.code, "http": self.code // 100, "error": self.error}
        if self.link:
            body["link"] = self.link
        response = JsonResponse(body, status=self.code // 100)
        if self.retry_after is not None:
            response["Retry-After"] = str(max(math.ceil(self.retry_after), 1))
        if self.code // 100 == 401:
            response["WWW-Authenticate"] = 'Basic realm="tg-relay"'
        return response


UNAUTHORIZED = 40101


@dataclass(frozen=True)
class Sender:
    user: User
    # A send-only token's or an integration's destination: it may publish there only.
    only_destination_id: int | None = None
    # An integration with a destination publishes there whatever the topic; a token's names it, or is refused.
    own_destination: bool = False


# -- credentials --------------------------------------------------------------------


def authenticate(request: HttpRequest) -> Sender:
    """Who publishes, from the Authorization header or `?auth=`; raises NtfyError (401, 429, 503)."""
    header = request.headers.get("Authorization", "")
    if not header and (given := request.GET.get("auth", "")):
        header = _decoded_auth_param(given)
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return _by_token(value)
    if scheme.lower() == "basic" and value:
        try:
            username, separator, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise NtfyError(UNAUTHORIZED, "unauthorized: the Basic credentials are not base64") from None
        if not separator:
            raise NtfyError(UNAUTHORIZED, "unauthorized: Basic credentials are username:password")
        # ntfy's way of sending a token where only a password fits: no username.
        return _by_token(password) if not username else _by_password(request, username, password)
    raise NtfyError(UNAUTHORIZED, "unauthorized: a username and password, an API token or an integration's secret")


def _decoded_auth_param(value: str) -> str:
    # Raw URL-safe base64 as ntfy documents it; padded and standard base64 are read too.
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise NtfyError(UNAUTHORIZED, "unauthorized: ?auth= is the base64 of an Authorization header") from None


def _by_token(value: str) -> Sender:
    if API_TOKEN.fullmatch(value):
        try:
            user, token = BearerTokenAuthentication().authenticate_credentials(value.encode())
        except exceptions.AuthenticationFailed:
            raise NtfyError(UNAUTHORIZED, "unauthorized: invalid token") from None
        return Sender(user=user, only_destination_id=send_only_destination_id(token))
    integration = selectors.integration_for_secret(value, kinds=("ntfy",))
    if integration is None:
        raise NtfyError(UNAUTHORIZED, "unauthorized: invalid token")
    services.record_use(integration=integration)
    own = integration.destination_id is not None
    return Sender(user=integration.user, only_destination_id=integration.destination_id, own_destination=own)


def _by_password(request: HttpRequest, username: str, password: str) -> Sender:
    try:
        user, _ = CachedBasicAuthentication().authenticate_credentials(username, password, request)
    except exceptions.Throttled as exc:
        raise NtfyError(42909, "limit reached: too many failed logins", retry_after=exc.wait) from None
    except exceptions.AuthenticationFailed:
        raise NtfyError(UNAUTHORIZED, "unauthorized: invalid username or password") from None
    except exceptions.APIException as exc:
        # The machine's password hashing is busy (accounts/hashers.py): nothing was checked.
        raise NtfyError(exc.status_code * 100 + 1, str(exc.detail), retry_after=getattr(exc, "wait", 1)) from None
    return Sender(user=user)


# -- parameters -----------------------------------------------------------------------


def read_param(request: HttpRequest, *names: str, given: Mapping[str, str] | None = None) -> str:
    """One parameter: given (JSON publishing's field, under the first name), else a header, else a query parameter."""
    if given and names[0] in given:
        return given[names[0]]
    for name in names:
        if value := request.headers.get(name, "").strip():
            return _utf8(value)
    for name in names:
        if value := request.GET.get(name, "").strip():
            return value
    return ""


def _utf8(value: str) -> str:
    # A header's bytes reach Django as Latin-1; ntfy's clients send UTF-8 in them.
    try:
        return value.encode("latin-1").decode()
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _rfc2047(value: str) -> str:
    """`=?UTF-8?B?...?=` as ntfy reads it in a title, a message or a tag: for clients that send ASCII headers only."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


def _priority(value: str) -> int | None:
    if not value:
        return None
    if (priority := PRIORITIES.get(value.lower())) is None:
        raise NtfyError(40007, "invalid priority parameter: 1-5, or min, low, default, high, max, urgent", link=DOCS)
    return priority


def _flag(value: str) -> bool:
    return value.lower() in TRUE


def _deliver_at(value: str, now: datetime) -> datetime | None:
    """ntfy's delay: a Unix timestamp, or a duration ("30m", "2h", "1 day"); 10 seconds to 3 days from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        moment = datetime.fromtimestamp(min(int(value), 253402300799), tz=now.tzinfo)
        if moment < now:
            raise NtfyError(40004, "invalid delay parameter: the timestamp is in the past", link=DOCS)
    elif match := _DURATION.match(value):
        unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}[match[2][0].lower()]
        moment = now + timedelta(seconds=min(int(match[1]), 10**9) * unit)
    elif _GO_DURATION.match(value):
        seconds = sum(float(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(value))
        moment = now + timedelta(seconds=min(seconds, 1e9))
    else:
        raise NtfyError(
            40004,
            "invalid delay parameter: give a duration (30m, 2h, 1 day) or a Unix timestamp; "
            "times in words (tomorrow, 10am) are not read here",
            link=DOCS,
        )
    if moment < now + MIN_DELAY:
        raise NtfyError(40005, "invalid delay parameter: too small, at least 10 seconds", link=DOCS)
    if moment > now + MAX_DELAY:
        raise NtfyError(40006, "invalid delay parameter: too large, at most 3 days", link=DOCS)
    return moment


def _buttons(value: str) -> tuple[Button, ...]:
    """ntfy's view actions as link buttons; its other actions (http, broadcast, copy) have no Telegram button."""
    if not value:
        return ()
    try:
        actions = json.loads(value) if value.lstrip().startswith("[") else _simple_actions(value)
        if not isinstance(actions, list) or not all(isinstance(action, dict) for action in actions):
            raise ValueError("a list of actions")
    except ValueError as exc:
        raise NtfyError(40018, f"invalid request: actions invalid, {exc}", link=DOCS) from None
    if len(actions) > MAX_ACTIONS:
        raise NtfyError(40018, f"invalid request: actions invalid, at most {MAX_ACTIONS}", link=DOCS)
    views = [action for action in actions if str(action.get("action", "")).lower() == "view"]
    if any(not isinstance(a.get("label"), str) or not isinstance(a.get("url"), str) for a in views):
        raise NtfyError(40018, "invalid request: actions invalid, a view action has a label and a url", link=DOCS)
    # A link Telegram cannot open (mailto:, geo:, an app's scheme) is left out rather than the message refused.
    return tuple(Button(text=action["label"], url=action["url"]) for action in views if is_link(action["url"]))


def _simple_actions(value: str) -> list[dict]:
    """ntfy's short form: `view, Open, https://x, clear=true; http, Close, https://y`, values quoted if need be."""
    actions = []
    for text in _split(value, ";"):
        action: dict[str, str] = {}
        positional = ["action", "label", "url"]
        for part in _split(text, ","):
            key, equals, rest = part.partition("=")
            if equals and re.fullmatch(r"[A-Za-z.]+", key.strip()):
                action[key.strip().lower()] = _unquoted(rest.strip())
            elif positional:
                action[positional.pop(0)] = _unquoted(part)
        if "action" not in action or "label" not in action:
            raise ValueError(f"{text!r} needs an action and a label")
        actions.append(action)
    return actions


def _split(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside quotes, each part stripped; the quotes stay."""
    parts, start, quote = [], 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == separator:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _unquoted(part: str) -> str:
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
        return part[1:-1]
    return part


@dataclass(frozen=True)
class Parsed:
    draft: Draft
    priority: int | None


def parse(request: HttpRequest, param: Callable[..., str], body: bytes | None, message: str = "") -> Parsed:
    """The request as a Draft. `body` is what a topic's POST or PUT carries; JSON publishing gives `message`."""
    # In a header or a query parameter a line break can only be written as "\\n".
    text = message or _rfc2047(param("x-message", "message", "m").replace("\\n", "\n"))
    priority = _priority(param("x-priority", "priority", "prio", "p"))
    markdown = _flag(param("x-markdown", "markdown", "md")) or request.content_type == "text/markdown"
    buttons = _buttons(param("x-actions", "actions", "action"))
    filename = param("x-filename", "filename", "file", "f").replace("\\", "/").rsplit("/", 1)[-1]
    if len(filename) > MAX_FILENAME:
        raise NtfyError(40000, f"invalid request: a filename is at most {MAX_FILENAME} characters")
    attachment, body_text = None, ""
    if attach := param("x-attach", "attach", "a"):
        # Nothing is fetched from elsewhere: the file's address is a button.
        if not attach.lower().startswith(("http://", "https://")):
            raise NtfyError(40013, "invalid request: attachment URL is invalid", link=DOCS)
        name = filename or attach.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "attachment"
        buttons += (Button(text=f"📎 {name}"[:64], url=attach),)
        body_text = _text(body)
    elif body is not None and (filename or (body_text := _text(body)) is None):
        # A file: named by the request, or a body that cannot be a message (binary, or too long for one).
        content_type = mimetypes.guess_type(filename)[0] if filename else _given_type(request)
        name = filename or "attachment" + (mimetypes.guess_extension(content_type) or "")
        attachment = Attachment(name=name, content_type=content_type or "application/octet-stream", data=body)
        body_text, text = "", text or ATTACHMENT_MESSAGE.format(name=name)
    if body_text and has_visible_character(body_text):
        text = body_text.strip()
    if len(text) > settings.MESSAGE_MAX_LENGTH:
        raise NtfyError(40000, f"invalid request: a message is at most {settings.MESSAGE_MAX_LENGTH} characters")
    draft = Draft(
        text=text if has_visible_character(text) else EMPTY_MESSAGE,
        title=_rfc2047(param("x-title", "title", "ti", "t")),
        format="markdown" if markdown else "text",
        silent=True if priority in SILENT_PRIORITIES else None,
        tags=tuple(filter(None, (_rfc2047(tag.strip()) for tag in param("x-tags", "tags", "tag", "ta").split(",")))),
        click=click if is_link(click := param("x-click", "click")) else "",
        buttons=buttons,
        deliver_at=_deliver_at(param("x-delay", "delay", "x-at", "at", "x-in", "in"), timezone.now()),
        attachment=attachment,
    )
    return Parsed(draft=draft, priority=priority)


def _text(body: bytes | None) -> str | None:
    """The body as a message's text; None when it cannot be one."""
    if body is None:
        return ""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return None
    return text if len(text) <= settings.MESSAGE_MAX_LENGTH else None


def _given_type(request: HttpRequest) -> str:
    # What curl and most clients send when they say nothing of the body.
    return "" if request.content_type in ("", "application/x-www-form-urlencoded") else request.content_type


# JSON publishing: each field stands for the header it would be (ntfy's server does the same).
JSON_FIELDS = {
    "title": "x-title",
    "priority": "x-priority",
    "tags": "x-tags",
    "click": "x-click",
    "markdown": "x-markdown",
    "delay": "x-delay",
    "actions": "x-actions",
    "attach": "x-attach",
    "filename": "x-filename",
}


def _json_fields(data: dict) -> dict[str, str]:
    given = {}
    for field, header in JSON_FIELDS.items():
        value = data.get(field)
        if value is None or value == "" or value is False:
            continue
        if field == "tags" and isinstance(value, list) and all(isinstance(tag, str) for tag in value):
            value = ",".join(value)
        elif field == "actions" and isinstance(value, list):
            value = json.dumps(value)
        elif field == "markdown" and value is True:
            value = "yes"
        elif field == "priority" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise NtfyError(40017, f"invalid request: request body must be message JSON, {field} is not valid")
        given[header] = value
    return given


# -- accepting ------------------------------------------------------------------------


def publish(request: HttpRequest, sender: Sender, topic: str, parsed: Parsed) -> JsonResponse:
    """Accept the draft for the topic's destination (or the credential's own), answered as ntfy does."""
    draft = parsed.draft
    to = None if sender.own_destination else topic
    try:
        message = relay_services.accept(
            user=sender.user, draft=draft, to=to, only_destination_id=sender.only_destination_id
        )
    except relay_services.QuotaExceeded as exc:
        error = "limit reached: too many requests, please be nice"
        raise NtfyError(42901, error, retry_after=exc.retry_after) from None
    except relay_services.DraftInvalid as exc:
        if exc.field == "attachment" and draft.attachment is not None and draft.attachment.data:
            raise NtfyError(41301, f"attachment too large: {exc.message}") from None
        raise NtfyError(40000, f"invalid request: {exc.field}: {exc.message}") from None
    except (relay_services.DestinationNotFound, relay_services.ChatNotLinked):
        raise NtfyError(40401, f"topic not found: none of your destinations is labelled {topic!r}") from None
    except relay_services.DestinationNotAllowed:
        raise NtfyError(40301, "forbidden: this token may publish only to its own destination") from None
    except relay_services.ChatUnreachable as exc:
        error = f"conflict: Telegram cannot reach this destination ({exc.reason}); link it again"
        raise NtfyError(40900, error) from None
    return JsonResponse(answer(message, topic, parsed))


def answer(message: Message, topic: str, parsed: Parsed) -> dict:
    """ntfy's message JSON for an accepted message."""
    draft = parsed.draft
    moment = message.deliver_at or message.created_at
    body: dict = {"id": str(message.pk), "time": int(moment.timestamp())}
    if settings.MESSAGE_RETENTION_DAYS:
        body["expires"] = int((moment + timedelta(days=settings.MESSAGE_RETENTION_DAYS)).timestamp())
    body.update(event="message", topic=topic, message=message.text)
    if message.title:
        body["title"] = message.title
    if draft.tags:
        body["tags"] = list(draft.tags)
    if parsed.priority is not None:
        body["priority"] = parsed.priority
    if draft.click:
        body["click"] = draft.click
    if draft.buttons:
        body["actions"] = [{"action": "view", "label": button.text, "url": button.url} for button in draft.buttons]
    if draft.attachment is not None:
        attachment = draft.attachment
        body["attachment"] = {"name": attachment.name, "type": attachment.content_type, "size": len(attachment.data)}
    if draft.format == "markdown":
        body["content_type"] = "text/markdown"
    return body


# -- views ------------------------------------------------------------------------------


@csrf_exempt
def topic_view(request: HttpRequest, topic: str) -> HttpResponse:
    """`POST` or `PUT /<topic>`: the body is the message, or the file when a filename is given."""
    if request.method not in ("POST", "PUT"):
        return _not_offered(request)
    try:
        sender = authenticate(request)
        # Read only once the sender is known; RequestBodyLimitMiddleware has bounded it.
        parsed = parse(request, partial(read_param, request), request.read())
        return publish(request, sender, topic, parsed)
    except NtfyError as exc:
        if request.method in ("POST", "PUT") and not getattr(request, "_read_started", False):
            # The body was not read: on a kept-alive connection it would be taken for the next request.
            close_connection()
        return exc.response()


@csrf_exempt
def json_view(request: HttpRequest) -> HttpResponse:
    """`POST` or `PUT /` with ntfy's message JSON: `{"topic": ..., "message": ..., ...}`."""
    try:
        sender = authenticate(request)
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            raise NtfyError(40017, "invalid request: request body must be message JSON", link=DOCS)
        topic = data.get("topic")
        if not isinstance(topic, str) or not TOPIC_PATH.match(f"/{topic}"):
            raise NtfyError(40009, "invalid request: topic invalid")
        message = data.get("message") or ""
        if not isinstance(message, str):
            raise NtfyError(40017, "invalid request: request body must be message JSON, message is not text")
        parsed = parse(request, partial(read_param, request, given=_json_fields(data)), None, message)
        return publish(request, sender, topic, parsed)
    except NtfyError as exc:
        return exc.response()


def or_json_publishing(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """`view` for reading `/`; a POST or PUT there is ntfy's JSON publishing, as on an ntfy server."""

    @csrf_exempt
    def root(request: HttpRequest) -> HttpResponse:
        if request.method in ("POST", "PUT"):
            return json_view(request)
        return view(request)

    root.__doc__ = view.__doc__
    return root


def _not_offered(request: HttpRequest) -> HttpResponse:
    # A person's browser, or anyone who is not an ntfy client with credentials, gets
    # the site's own answer for an address with nothing at it.
    speaks_ntfy = bool(request.headers.get("Authorization") or request.GET.get("auth"))
    if "text/html" in request.headers.get("Accept", "") or not speaks_ntfy:
        raise Http404
    response = NtfyError(
        40501, "method not allowed: publish with POST or PUT; this server relays to Telegram and has no subscriptions"
    ).response()
    response["Allow"] = "POST, PUT"
    return response
