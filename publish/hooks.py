"""Hooks: `POST /hooks/<secret>/alertmanager`, `/hooks/<secret>/grafana` and `/hooks/<secret>` for anything else.

The secret in the address is the credential: an integration's, of that
hook's kind (an Alertmanager secret works only on /alertmanager), which may
only publish, to the integration's destination or else the account's
default. An unknown secret, or one of another kind, is the same 404. Each
hook parses the request into a Draft and hands it to relay.services.accept,
as every way in does, and answers 200 with the accepted message's id.

Alertmanager and Grafana retry what is not 2xx, so an unreachable chat
(409) or a spent quota (429, with Retry-After) is answered as such, to be
tried again; a payload that cannot be read is a 400 naming the problem.
The address holds the secret, so Django's log line for an error answer,
which shows the path, is replaced by one naming the integration instead.
"""

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import replace

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from publish import selectors, services
from publish.alerts import PayloadInvalid, alertmanager_draft, grafana_draft, md
from publish.hook_templates import render_template
from publish.models import Integration
from relay import services as relay_services
from relay.drafts import MAX_TITLE_LENGTH, Draft
from relay.validation import has_visible_character

logger = logging.getLogger(__name__)

Parse = Callable[[HttpRequest, Integration], Draft | None]

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Apprise's notification types (json:// and form:// send them as `type`), as ntfy emoji tags.
APPRISE_TAGS = {"success": ("white_check_mark",), "warning": ("warning",), "failure": ("x",)}
# What PostgreSQL cannot store in a text (NUL) and what cannot be encoded at all (a lone surrogate).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _hook_view(kind: str, parse: Parse) -> Callable[[HttpRequest, str], JsonResponse]:
    @csrf_exempt
    def view(request: HttpRequest, secret: str) -> JsonResponse:
        if request.method != "POST":
            response = _answer(405, "A hook takes POST.", "method_not_allowed", kind=kind)
            response["Allow"] = "POST"
            return response
        try:
            return _hook(request, secret, kind, parse)
        except Exception:
            # Answered here rather than by Django, whose log line would show the path, secret and all.
            logger.exception("hook failed", extra={"kind": kind})
            return _answer(500, "The server ran into an error, and it is logged.", "server_error", kind=kind)

    return view


def _hook(request: HttpRequest, secret: str, kind: str, parse: Parse) -> JsonResponse:
    integration = selectors.integration_for_secret(secret, kinds=(kind,))
    if integration is None:
        return _answer(404, "There is no hook at this address.", "not_found", kind=kind)
    services.record_use(integration=integration)
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 255 or not key.isprintable() or not key.isascii():
        return _answer(400, "Idempotency-Key: at most 255 printable ASCII characters.", "invalid", integration)
    try:
        draft = parse(request, integration)
    except PayloadInvalid as exc:
        return _answer(400, str(exc), "invalid_payload", integration)
    if draft is None:
        return JsonResponse({"accepted": [], "detail": "The template made an empty message: nothing was sent."})
    draft = replace(draft, text=_storable(draft.text), title=_storable(draft.title))
    try:
        message = relay_services.accept(
            user=integration.user,
            draft=draft,
            idempotency_key=key,
            to=integration.destination_id or None,
        )
    except relay_services.QuotaExceeded as exc:
        response = _answer(
            429, "This account's messages for the minute are used up; try again later.", "quota", integration
        )
        response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    except relay_services.DraftInvalid as exc:
        return _answer(400, f"{exc.field}: {exc.message}", "invalid_payload", integration)
    except relay_services.ChatUnreachable as exc:
        detail = f"Telegram cannot reach this hook's destination ({exc.reason}). Link the chat again to resume."
        return _answer(409, detail, "chat_unreachable", integration)
    except (relay_services.ChatNotLinked, relay_services.DestinationNotFound):
        # No default destination; or the integration's own removed this instant (which removes the integration).
        detail = "This account has no Telegram chat to send to: link one first."
        return _answer(409, detail, "chat_not_linked", integration)
    return JsonResponse({"accepted": [message.pk]})


def _answer(
    status: int, detail: str, code: str, integration: Integration | None = None, *, kind: str = ""
) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    # Django would log the path, and with it the secret; this line names the integration instead.
    response._has_been_logged = True
    logger.warning(
        "hook refused: %s",
        code,
        extra={
            "status": status,
            "integration_id": integration.pk if integration else None,
            "kind": integration.kind if integration else kind,
        },
    )
    return response


# -- Alertmanager and Grafana ----------------------------------------------------------------------------------


def _alertmanager(request: HttpRequest, integration: Integration) -> Draft:
    return alertmanager_draft(_json(request), time_zone=integration.user.time_zone)


def _grafana(request: HttpRequest, integration: Integration) -> Draft:
    return grafana_draft(_json(request), time_zone=integration.user.time_zone)


def _json(request: HttpRequest) -> object:
    try:
        text = request.body.decode(request.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise PayloadInvalid("body", "not text in its charset.") from None
    if not text.strip():
        raise PayloadInvalid("body", "empty; expected JSON.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadInvalid("body", f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    except (ValueError, RecursionError):
        # A number too long to read, or nesting deeper than Python's parser goes.
        raise PayloadInvalid("body", "not JSON that can be read.") from None


# -- the generic hook -----------------------------------------------------------------------------------------


def _generic(request: HttpRequest, integration: Integration) -> Draft | None:
    content_type = request.content_type or ""
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return payload_draft(_json(request), integration)
    if content_type in FORM_TYPES and (content_type != FORM_TYPES[0] or b"=" in request.body):
        # Apprise's form://, or any form: its fields, as JSON would give them.
        fields = {name: values[0] if len(values) == 1 else values for name, values in request.POST.lists()}
        return payload_draft(fields, integration)
    # Anything else is the message itself: `curl -d 'Backup done'` sends a bare text labelled as a form.
    try:
        text = request.body.decode(request.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise PayloadInvalid("body", "not text in its charset.") from None
    if not has_visible_character(text):
        raise PayloadInvalid("body", "the message is empty.")
    return Draft(text=_cut(text, settings.MESSAGE_MAX_LENGTH))


def payload_draft(payload: object, integration: Integration) -> Draft | None:
    """A posted JSON value (or form) as a message; None when the integration's template makes an empty one.

    With a template: what it renders, as Markdown. Without one: `message`
    (and `title`) when the payload has them, as Apprise's json:// and form://
    send; anything else is shown whole, pretty, in a code block.
    """
    limit = settings.MESSAGE_MAX_LENGTH
    if integration.template:
        try:
            text = render_template(integration.template, payload)
        except Exception as exc:  # noqa: BLE001 - a template is the account's own code: any failure is its own
            return _pretty(payload, integration, note=f"The hook's template failed ({exc}). What was posted:")
        if not has_visible_character(text):
            return None
        return Draft(text=_cut(text, limit), format="markdown")
    if isinstance(payload, dict) and isinstance(payload.get("message"), str) and payload["message"].strip():
        title = payload.get("title")
        kind = payload.get("type")
        return Draft(
            text=_cut(payload["message"], limit),
            title=_cut(" ".join(title.split()), MAX_TITLE_LENGTH) if isinstance(title, str) else "",
            tags=APPRISE_TAGS.get(kind, ()) if isinstance(kind, str) else (),
        )
    return _pretty(payload, integration)


def _pretty(payload: object, integration: Integration, note: str = "") -> Draft:
    """The payload as indented JSON in a code block (a `pre` entity, language json), cut to fit one message."""
    pretty = json.dumps(payload, indent=2, ensure_ascii=False)
    # A fence longer than any run of backticks inside, so nothing in the JSON can close it.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", pretty)), default=0))
    opening = f"{md(note)}\n\n{fence}json\n" if note else f"{fence}json\n"
    room = settings.MESSAGE_MAX_LENGTH - len(opening) - len(fence) - 3
    if len(pretty) > room:
        pretty = pretty[: room - 2] + "\n…"
    return Draft(text=f"{opening}{pretty}\n{fence}", title=_cut(integration.name, MAX_TITLE_LENGTH), format="markdown")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _storable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


# Prometheus Alertmanager's webhook receiver: one message per notification, the whole group in it.
alertmanager = _hook_view(Integration.Kind.ALERTMANAGER, _alertmanager)
# Grafana's webhook contact point: one message per notification.
grafana = _hook_view(Integration.Kind.GRAFANA, _grafana)
# Anything: a text as it is; JSON or a form through the integration's template, as Apprise's, or shown whole.
webhook = _hook_view(Integration.Kind.WEBHOOK, _generic)
