"""A typed client of tg-relay's HTTP API: send messages, files and questions, and read their answers."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

Format = Literal["text", "markdown", "html"]
# A row of buttons, or several rows: each button a dict as the API takes it.
Buttons = Sequence[Mapping[str, str]] | Sequence[Sequence[Mapping[str, str]]]

# The longest the server holds one `?wait=` request.
MAX_WAIT_SECONDS = 300
# A message in one of these states will never be answered.
UNANSWERABLE = ("failed", "cancelled")
# Beyond the server's own wait, what one request may take.
NETWORK_MARGIN_SECONDS = 30
_ISO_MOMENT = re.compile(
    r"(?P<moment>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?$"
)


class TgRelayError(Exception):
    """Anything this client raises."""


class ApiError(TgRelayError):
    """The server refused the request: its HTTP status, and its detail in its own words."""

    def __init__(self, status_code: int, detail: str, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.code = code
        self.retry_after = retry_after


class ServerUnreachable(TgRelayError):
    """The server could not be reached, or did not answer in time."""


class MessageFailed(TgRelayError):
    """The message was not delivered (failed, or cancelled), so it will have no answer."""

    def __init__(self, message: Message) -> None:
        reason = f": {message.error}" if message.error else ""
        super().__init__(f"Message {message.id} {message.status}{reason}")
        self.message = message


@dataclass(frozen=True)
class Answer:
    """How someone answered a message: a button they pressed, or a reply they wrote."""

    value: str
    kind: str  # "button" or "reply"
    # Who answered, as Telegram names them.
    by: str = ""
    at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            value=str(data.get("value") or ""),
            kind=str(data.get("kind") or ""),
            by=str(data.get("by") or ""),
            at=_moment(data.get("at")),
        )


@dataclass(frozen=True)
class Message:
    """A message as the server last described it."""

    id: int
    status: str  # queued, sent, failed or cancelled
    text: str = ""
    destination: int | None = None
    title: str = ""
    format: str = "text"
    created_at: datetime | None = None
    deliver_at: datetime | None = None
    sent_at: datetime | None = None
    error: str = ""
    attempts: int = 0
    answer: Answer | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        answer = data.get("answer")
        return cls(
            id=int(data["id"]),
            status=str(data.get("status", "")),
            text=data.get("text") or "",
            destination=data.get("destination"),
            title=data.get("title") or "",
            format=data.get("format") or "text",
            created_at=_moment(data.get("created_at")),
            deliver_at=_moment(data.get("deliver_at")),
            sent_at=_moment(data.get("sent_at")),
            error=data.get("error") or "",
            attempts=data.get("attempts") or 0,
            answer=Answer.from_json(answer) if isinstance(answer, Mapping) else None,
        )


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 moment as the API writes it; None for anything else."""
    match = _ISO_MOMENT.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    # Before Python 3.11, fromisoformat reads neither a Z nor fractions other than 3 or 6 digits.
    fraction = f".{match['fraction'][:6]:0<6}" if match["fraction"] else ""
    offset = "+00:00" if match["offset"] in (None, "Z", "z") else match["offset"]
    try:
        return datetime.fromisoformat(f"{match['moment']}{fraction}{offset}")
    except ValueError:
        return None


def base_url(url: str) -> str:
    """The service's address as the client uses it: no trailing slash, no /api/v1 after it."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http:// or https:// address")
    for suffix in ("/api/v1", "/api"):
        url = url.removesuffix(suffix)
    return url


class Client:
    """tg-relay's API with one API token.

    >>> with Client("https://relay.example", token) as relay:
    ...     relay.send("Backup done", to="alerts")
    """

    def __init__(
        self, url: str, token: str, *, timeout: float = 30, transport: httpx.BaseTransport | None = None
    ) -> None:
        from tgrelay import __version__

        self.url = base_url(url)
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"tgrelay/{__version__}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- messages ---------------------------------------------------------------------

    def send(
        self,
        text: str,
        *,
        to: str | int | None = None,
        title: str | None = None,
        format: Format = "text",
        silent: bool | None = None,
        click: str | None = None,
        buttons: Buttons | None = None,
        deliver_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Message:
        """Send a message; it is queued at once and delivered by the server.

        `to` is a destination's label or id (the default destination if None); `silent` None
        leaves it to the destination's setting; a naive `deliver_at` is read as local time.
        """
        body: dict[str, Any] = {"text": text, "format": format}
        if to is not None:
            body["to"] = to
        if title:
            body["title"] = title
        if silent is not None:
            body["silent"] = silent
        if click:
            body["click"] = click
        if buttons is not None:
            body["buttons"] = [list(row) if not isinstance(row, Mapping) else dict(row) for row in buttons]
        if deliver_at is not None:
            body["deliver_at"] = deliver_at.astimezone(timezone.utc).isoformat()
        return self._post_message(body, idempotency_key)

    def send_file(
        self,
        path: str | Path,
        *,
        text: str | None = None,
        to: str | int | None = None,
        title: str | None = None,
        silent: bool = False,
    ) -> Message:
        """Send a file, with `text` as its caption.

        Files go through the service's ntfy-compatible publishing (`PUT /<topic>`), where
        the topic is the destination's label.
        """
        path = Path(path)
        topic = self._topic(to)
        # ntfy reads a header's bytes as UTF-8; the text and title go as query parameters, which
        # carry any character, line breaks included.
        headers: dict[str, str | bytes] = {"Filename": path.name.encode()}
        if silent:
            headers["Priority"] = "low"
        params = {name: value for name, value in (("message", text), ("title", title)) if value}
        with path.open("rb") as file:
            body = self._request("PUT", f"/{topic}", content=file, headers=headers, params=params)
        return Message(
            id=int(body["id"]),
            status="queued",
            text=body.get("message", ""),
            title=body.get("title", ""),
            created_at=datetime.fromtimestamp(body["time"], timezone.utc) if "time" in body else None,
        )

    def message(self, id: int) -> Message:
        return Message.from_json(self._request("GET", f"/api/v1/messages/{id}/"))

    def wait(self, id: int, timeout: float) -> Message:
        """The message once it is answered or has failed, or as it is when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            seconds = min(MAX_WAIT_SECONDS, math.ceil(deadline - time.monotonic()))
            if seconds <= 0:
                return self.message(id)
            asked = time.monotonic()
            data = self._request(
                "GET",
                f"/api/v1/messages/{id}/",
                params={"wait": seconds},
                timeout=seconds + NETWORK_MARGIN_SECONDS,
            )
            message = Message.from_json(data)
            if message.answer is not None or message.status in UNANSWERABLE or time.monotonic() >= deadline:
                return message
            # A server that answers at once rather than holding the request is asked once a second.
            time.sleep(max(0.0, min(1 - (time.monotonic() - asked), deadline - time.monotonic())))

    def ask(
        self,
        text: str,
        buttons: Sequence[tuple[str, str]],
        *,
        timeout: float,
        to: str | int | None = None,
        title: str | None = None,
    ) -> Answer | None:
        """Send a question with a button for each (answer, label), and wait for a button or a written reply.

        None when no one answered within `timeout` seconds; MessageFailed when the message
        could not be delivered.
        """
        return self.wait_for_answer(self.send_question(text, buttons, to=to, title=title), timeout)

    def send_question(
        self,
        text: str,
        buttons: Sequence[tuple[str, str]],
        *,
        to: str | int | None = None,
        title: str | None = None,
    ) -> Message:
        """The first half of `ask`: the message with its answer buttons, accepting a reply too."""
        body: dict[str, Any] = {
            "text": text,
            "buttons": [[{"text": label, "answer": value} for value, label in buttons]],
            "accept_reply": True,
        }
        if to is not None:
            body["to"] = to
        if title:
            body["title"] = title
        return self._post_message(body, None)

    def wait_for_answer(self, message: Message, timeout: float) -> Answer | None:
        """The second half of `ask`."""
        message = self.wait(message.id, timeout)
        if message.answer is not None:
            return message.answer
        if message.status in UNANSWERABLE:
            raise MessageFailed(message)
        return None

    # -- destinations -----------------------------------------------------------------

    def destinations(self) -> list[dict[str, Any]]:
        """The account's destinations as the API lists them."""
        return list(self._request("GET", "/api/v1/destinations/"))

    def _topic(self, to: str | int | None) -> str:
        """The ntfy topic of a destination: its label."""
        if isinstance(to, str):
            return to
        for destination in self.destinations():
            wanted = destination.get("is_default") if to is None else destination["id"] == to
            if wanted:
                return destination["label"]
        if to is None:
            raise ApiError(409, "This account has no default destination: link a chat first, or name one.")
        raise ApiError(404, f"None of your destinations has the id {to}.")

    # -- HTTP -------------------------------------------------------------------------

    def _post_message(self, body: dict[str, Any], idempotency_key: str | None) -> Message:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        data = self._request("POST", "/api/v1/messages/", json=body, headers=headers)
        # The server's answer to a send leaves out what it was given.
        return Message.from_json({"title": body.get("title"), "format": body.get("format"), **data})

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(f"{self.url} did not answer in time ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"Cannot reach {self.url}: {exc or type(exc).__name__}.") from exc
        if response.is_error:
            raise _refusal(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, f"The answer from {self.url} is not JSON: is this tg-relay's address?"
            ) from None


def _refusal(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = _detail(body) or f"HTTP {response.status_code} {response.reason_phrase}".strip()
    code = body.get("code", "") if isinstance(body, dict) else ""
    retry_after = response.headers.get("Retry-After")
    return ApiError(
        response.status_code,
        detail,
        code=str(code),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def _detail(body: Any, field: str = "") -> str:
    """The server's words in any of its error shapes: DRF's detail, a field's errors, ntfy's error."""
    if isinstance(body, str):
        return f"{field}: {body}" if field else body
    if isinstance(body, list):
        return "; ".join(filter(None, (_detail(item, field) for item in body)))
    if isinstance(body, dict):
        for key in ("detail", "error"):
            if isinstance(body.get(key), str):
                return _detail(body[key], field)
        parts = []
        for key, value in body.items():
            if key in ("code", "http", "link"):
                continue
            parts.append(_detail(value, f"{field}.{key}" if field else str(key)))
        return "; ".join(filter(None, parts))
    return ""
