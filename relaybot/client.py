"""A small typed client for the Bot API methods tg-relay uses.

httpx gives connection reuse and timeouts; this module only shapes calls and
turns Bot API error bodies into exceptions that carry what delivery needs.
The request URL contains the bot token, so nothing here logs or repeats it.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

# The updates the bot acts on: text messages in private chats and groups,
# posts in channels, presses of answer buttons, and changes of its own membership (a user blocking or
# restarting it, a group removing it), which Telegram sends only when asked for.
ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]


@dataclass
class TelegramError(Exception):
    """An answer of `{"ok": false}`, or no usable answer at all."""

    description: str
    error_code: int | None = None
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    parameters: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.error_code or 'network'}: {self.description}"

    @property
    def is_transient(self) -> bool:
        """Worth retrying as is: no answer, a server error, or our own misconfiguration."""
        return self.error_code is None or self.error_code >= 500 or self.error_code in (401, 404)

    @property
    def chat_unreachable(self) -> bool:
        """The chat (or topic) is gone for the bot: blocked, kicked, not allowed to post, not found, topic closed."""
        if self.error_code == 403:
            return True
        description = self.description.lower()
        return self.error_code == 400 and any(
            words in description
            for words in ("chat not found", "need administrator rights", "topic_closed", "message thread not found")
        )


class TelegramNetworkError(TelegramError):
    """No answer: connection refused or dropped, or a timeout."""


class BotClient:
    def __init__(self, token: str, base_url: str, timeout: float = 10.0) -> None:
        self._prefix = f"{base_url.rstrip('/')}/bot{token}/"
        # What of the token an answer might quote: all of it, or its secret part.
        self._secrets = [part for part in (token, token.partition(":")[2]) if len(part) >= 8]
        self._timeout = timeout
        self._http = httpx.Client(timeout=timeout)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        files: dict | None = None,
        data: dict | None = None,
    ) -> Any:
        try:
            if files is not None:
                response = self._http.post(
                    self._prefix + method, files=files, data=data, timeout=timeout or self._timeout
                )
            else:
                response = self._http.post(self._prefix + method, json=params or {}, timeout=timeout or self._timeout)
        except httpx.TimeoutException:
            raise TelegramNetworkError(f"{method}: timed out") from None
        except httpx.TransportError as exc:
            # The exception text can hold the URL; keep only its kind.
            raise TelegramNetworkError(f"{method}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TelegramError(f"{method}: HTTP {response.status_code} without a Bot API body", response.status_code)
        if body.get("ok") is True:
            return body.get("result")
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        raise TelegramError(
            description=self._without_token(str(body.get("description") or f"HTTP {response.status_code}")),
            error_code=body.get("error_code") or response.status_code,
            retry_after=parameters.get("retry_after"),
            migrate_to_chat_id=parameters.get("migrate_to_chat_id"),
            parameters=parameters,
        )

    def _without_token(self, text: str) -> str:
        # A server that is not the Bot API may quote the request URL in its error;
        # the description is stored on messages and shown by the API.
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def get_me(self) -> dict:
        return self.call("getMe")

    def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        silent: bool = False,
        entities: list[dict] | None = None,
        reply_markup: dict | None = None,
    ) -> dict:
        # No parse_mode: the text is shown exactly as given, and formatting
        # goes as entities, so no text can ever fail to parse.
        params: dict[str, Any] = {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}}
        params.update(_options(thread_id=thread_id, silent=silent, reply_markup=reply_markup))
        if entities:
            params["entities"] = entities
        return self.call("sendMessage", params)

    def send_file(
        self,
        chat_id: int,
        *,
        photo: bool,
        name: str,
        content_type: str,
        data: bytes,
        thread_id: int | None = None,
        silent: bool = False,
        reply_markup: dict | None = None,
    ) -> dict:
        """sendPhoto or sendDocument, as a multipart upload."""
        method, field_name = ("sendPhoto", "photo") if photo else ("sendDocument", "document")
        fields = {"chat_id": str(chat_id)}
        for key, value in _options(thread_id=thread_id, silent=silent, reply_markup=reply_markup).items():
            fields[key] = value if isinstance(value, str) else json.dumps(value)
        files = {field_name: (name, data, content_type)}
        # An upload can take longer than a message: the timeout applies per phase, as for any call.
        return self.call(method, files=files, data=fields)

    def answer_callback_query(self, callback_query_id: str, text: str = "") -> bool:
        params: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            params["text"] = text[:200]
        return self.call("answerCallbackQuery", params)

    def edit_message_reply_markup(self, chat_id: int, message_id: int, reply_markup: dict | None) -> dict:
        params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
        if reply_markup:
            params["reply_markup"] = reply_markup
        return self.call("editMessageReplyMarkup", params)

    def edit_message_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        entities: list[dict] | None = None,
        reply_markup: dict | None = None,
    ) -> dict:
        # As sendMessage: no parse_mode. Telegram drops a keyboard an edit does not repeat.
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        if entities:
            params["entities"] = entities
        if reply_markup:
            params["reply_markup"] = reply_markup
        return self.call("editMessageText", params)

    def get_chat_member(self, chat_id: int, user_id: int) -> dict:
        return self.call("getChatMember", {"chat_id": chat_id, "user_id": user_id})

    def delete_message(self, chat_id: int, message_id: int) -> bool:
        return self.call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})

    def get_updates(self, offset: int | None, timeout: int = 30) -> list[dict]:
        params = {"timeout": timeout, "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            params["offset"] = offset
        return self.call("getUpdates", params, timeout=timeout + self._timeout)

    def set_webhook(self, url: str, secret_token: str) -> bool:
        return self.call("setWebhook", {"url": url, "secret_token": secret_token, "allowed_updates": ALLOWED_UPDATES})

    def delete_webhook(self) -> bool:
        return self.call("deleteWebhook")

    def get_webhook_info(self) -> dict:
        return self.call("getWebhookInfo")

    def close(self) -> None:
        self._http.close()


def _options(*, thread_id: int | None, silent: bool, reply_markup: dict | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if thread_id is not None:
        options["message_thread_id"] = thread_id
    if silent:
        options["disable_notification"] = True
    if reply_markup:
        options["reply_markup"] = reply_markup
    return options


_clients: dict[tuple[str, str], BotClient] = {}


def get_bot() -> BotClient:
    """The shared client for the configured bot, reused across calls."""
    key = (settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN)
    if key not in _clients:
        _clients[key] = BotClient(
            settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL, settings.TELEGRAM_TIMEOUT_SECONDS
        )
    return _clients[key]
