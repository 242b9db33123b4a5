"""A simulated Telegram Bot API server, hand-written because no library simulates the Bot API server for tests.

Telegram cannot be reached from where tg-relay is tested, so this server plays its
part: it answers the subset of the Bot API the relay uses (getMe, sendMessage,
getUpdates, setWebhook, deleteWebhook, getWebhookInfo) with Telegram's JSON shapes,
status codes and descriptions, and adds a control API under /_control/ through which
tests inject user messages, script faults and read what was sent:

    tg = FakeTelegram(token="123:abc").start()
    # point the relay at tg.url, then
    tg.user_says(42, "/start")
    tg.wait_sent(1)
    tg.stop()

A user blocking the bot (user_blocks_bot) both makes sends to them answer 403 and
queues a my_chat_member update, as Telegram does; chats/<id>/block only does the
former, like a block the bot was never told about.

All state lives in memory behind one lock. A Condition on that lock wakes long polls,
wait_sent and the webhook sender whenever something changes.
"""

import contextlib
import http.client
import json
import math
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fakegram.entities import EntityError, parse_html

BOT_ID = 7000000001
BOT_FIRST_NAME = "tg-relay demo"
MAX_TEXT_LENGTH = 4096
MAX_POLL_TIMEOUT = 50
MAX_WAIT_SENT = 60
MAX_FAULT_DELAY = 60
WEBHOOK_ATTEMPTS = 4
WEBHOOK_RETRY_DELAY = 0.2
WEBHOOK_TIMEOUT = 5

FAULT_KINDS = frozenset({"429", "500", "502", "drop", "slow", "403", "chat_not_found", "migrate", "too_long"})
FAULT_FIELDS = frozenset({"method", "chat_id", "kind", "times", "retry_after", "delay", "migrate_to_chat_id"})
PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}
# Left out unless allowed_updates names them (TELEGRAM.md: my_chat_member too).
OPT_IN_UPDATES = frozenset({"chat_member", "my_chat_member", "message_reaction", "message_reaction_count"})

BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
TOO_LONG = "Bad Request: message is too long"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

_BOT_PATH = re.compile(r"/bot([^/]*)/([^/]*)")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]+)?")
_INTEGER = re.compile(r"\s*-?\d+\s*")


class ApiError(Exception):
    """A Bot API error answer, shaped as Telegram sends it."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        body = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class BadInput(ValueError):
    """Control input the simulator cannot act on; answered with HTTP 400."""


class DropConnection(Exception):
    """Close the client's connection without answering, like a lost network."""


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"Too Many Requests: retry after {retry_after}",
        {"retry_after": retry_after},
    )


class FakeTelegram:
    """An in-memory Telegram Bot API server with a control API for tests."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        bot_username: str = "tgrelay_demo_bot",
    ) -> None:
        self.host = host
        self.port = port
        self.token = token  # None accepts any token
        self.bot_username = bot_username
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._methods = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        # These only grow, even across reset(), as in Telegram: a relay that is
        # still polling with an old offset must not mistake new updates for old.
        self._next_update_id = 1
        self._last_message_id: dict[int, int] = {}
        self._poll_ticket = 0
        # How many times reset() ran: a slow request that outlives a reset is forgotten with the rest.
        self._resets = 0
        self._forget_everything()

    def _forget_everything(self) -> None:
        self._updates: list[dict] = []
        self._sent: list[dict] = []
        self._users: dict[int, dict] = {}
        self._faults: list[dict] = []
        self._blocked: set[int] = set()
        self._not_found: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._webhook: dict | None = None
        self._allowed_updates: set[str] | None = None
        self._deliveries: list[dict] = []
        self._last_webhook_error: tuple[int, str] | None = None
        self._counts: Counter[str] = Counter()
        self._rate_limited = 0
        self._per_chat_limit: float | None = None
        self._global_limit: float | None = None
        self._recent_sends: deque[tuple[float, int]] = deque()

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> "FakeTelegram":
        """Serve in daemon threads; returns self."""
        if self._httpd is not None:
            raise RuntimeError("already started")
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server((self.host, self.port), handler)
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.01},  # how long stop() may wait
                name="fakegram-http",
                daemon=True,
            ),
            threading.Thread(target=self._webhook_sender, name="fakegram-webhook", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None or self._stopping.is_set():
            return
        self._stopping.set()
        with self._lock:
            self._changed.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL; the Bot API is at f"{url}/bot{token}/{method}"."""
        if self._httpd is None:
            raise RuntimeError("call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget updates, sent messages, faults, chat states, webhook, counts, limits."""
        with self._lock:
            self._forget_everything()
            self._resets += 1
            self._changed.notify_all()

    # -- control: what users do -------------------------------------------------

    def push_update(self, update: dict) -> int:
        """Queue a raw update (or push it to the webhook); returns its update_id."""
        if not isinstance(update, dict):
            raise BadInput("an update must be a JSON object")
        with self._lock:
            return self._push(dict(update))

    def user_says(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Alice",
        username: str | None = None,
        language_code: str | None = "ru",
    ) -> int:
        """Queue a private text message from a user, shaped as Telegram sends it."""
        update_id, _ = self._user_message(
            user_id,
            text,
            first_name=first_name,
            username=username,
            language_code=language_code,
        )
        return update_id

    def _user_message(
        self,
        user_id: Any,
        text: Any,
        *,
        first_name: Any,
        username: Any,
        language_code: Any,
    ) -> tuple[int, int]:
        if not _is_int(user_id) or user_id <= 0:
            raise BadInput("user_id must be a positive integer")
        if not isinstance(text, str) or not text:
            raise BadInput("text must be a non-empty string")
        if not isinstance(first_name, str) or not first_name:
            raise BadInput("first_name must be a non-empty string")
        for name, value in (("username", username), ("language_code", language_code)):
            if value is not None and not isinstance(value, str):
                raise BadInput(f"{name} must be a string")
        sender = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat = {"id": user_id, "first_name": first_name}
        if username:
            sender["username"] = chat["username"] = username
        if language_code:
            sender["language_code"] = language_code
        chat["type"] = "private"
        with self._lock:
            message = {
                "message_id": self._next_message_id(user_id),
                "from": sender,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            command = _COMMAND.match(text)
            if command:
                length = _utf16_length(command.group())
                message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
            self._users[user_id] = {key: value for key, value in chat.items() if key != "type"}
            return self._push({"message": message}), message["message_id"]

    def user_blocks_bot(self, user_id: int) -> int | None:
        """The user blocks the bot: sends answer 403, and a my_chat_member update says `kicked`.

        Returns the update_id, or None when the bot was blocked already (Telegram reports changes only).
        """
        return self._membership(user_id, blocked=True)

    def user_unblocks_bot(self, user_id: int) -> int | None:
        """The user unblocks (restarts) the bot: sends work again, and my_chat_member says `member`."""
        return self._membership(user_id, blocked=False)

    def _membership(self, user_id: Any, *, blocked: bool) -> int | None:
        if not _is_int(user_id) or user_id <= 0:
            raise BadInput("user_id must be a positive integer")
        with self._lock:
            if (user_id in self._blocked) == blocked:
                return None
            if blocked:
                self._blocked.add(user_id)
            else:
                self._blocked.discard(user_id)
            user = self._users.get(user_id, {"id": user_id, "first_name": "Alice"})
            sender = {"id": user_id, "is_bot": False, **{k: v for k, v in user.items() if k != "id"}}
            bot = self._bot_user()
            was, now = ({"status": "member", "user": bot}, {"status": "kicked", "user": bot, "until_date": 0})
            if not blocked:
                was, now = now, was
            change = {
                "chat": {**user, "type": "private"},
                "from": sender,
                "date": int(time.time()),
                "old_chat_member": was,
                "new_chat_member": now,
            }
            return self._push({"my_chat_member": change})

    def _push(self, update: dict) -> int:
        update_id = update.pop("update_id", None)
        if update_id is None:
            update_id = self._next_update_id
        elif not _is_int(update_id):
            raise BadInput("update_id must be an integer")
        self._next_update_id = max(self._next_update_id, update_id + 1)
        update = {"update_id": update_id, **update}
        # Telegram applies allowed_updates when an update is created, not later.
        if self._wanted(update):
            self._updates.append(update)
            self._changed.notify_all()
        return update_id

    def _wanted(self, update: dict) -> bool:
        kind = next((key for key in update if key != "update_id"), None)
        if kind is None:
            return True
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in OPT_IN_UPDATES

    # -- control: what the bot sent ---------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[dict]:
        """Messages accepted by sendMessage, in send order; text is as the client sent it."""
        with self._lock:
            return self._sent_to(chat_id)

    def wait_sent(self, count: int, timeout: float = 10, chat_id: int | None = None) -> list[dict]:
        """Wait until at least `count` messages were sent (to chat_id); returns them."""
        return self._wait_sent(count, timeout, chat_id)[0]

    def _wait_sent(self, count: int, timeout: float, chat_id: int | None) -> tuple[list[dict], bool]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                messages = self._sent_to(chat_id)
                remaining = deadline - time.monotonic()
                if len(messages) >= count or remaining <= 0 or self._stopping.is_set():
                    return messages, len(messages) >= count
                self._changed.wait(remaining)

    def _sent_to(self, chat_id: int | None) -> list[dict]:
        return [dict(message) for message in self._sent if chat_id is None or message["chat_id"] == chat_id]

    def request_counts(self) -> dict:
        """Bot API requests received per method (failed ones too) and 429s answered."""
        with self._lock:
            return {
                "counts": dict(self._counts),
                "total": self._counts.total(),
                "rate_limited": self._rate_limited,
            }

    def webhook_deliveries(self) -> list[dict]:
        """Every webhook POST attempt with its status code (None when unreachable)."""
        with self._lock:
            return [dict(delivery) for delivery in self._deliveries]

    def _webhook_state(self) -> dict:
        with self._lock:
            hook = self._webhook or {}
            return {
                "url": hook.get("url", ""),
                "secret_token": hook.get("secret_token"),
                "max_connections": hook.get("max_connections"),
                "allowed_updates": sorted(self._allowed_updates or []),
                "pending_update_count": len(self._updates),
                "deliveries": [dict(delivery) for delivery in self._deliveries],
            }

    # -- control: faults, chat states and limits --------------------------------

    def add_fault(self, **rule: Any) -> None:
        """Queue a fault rule; see FAULT_FIELDS and FAULT_KINDS."""
        self._add_faults([rule])

    def _add_faults(self, rules: list) -> None:
        # Check every rule before adding any, so a bad batch changes nothing.
        checked = [self._checked_fault(rule) for rule in rules]
        with self._lock:
            self._faults.extend(checked)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _fault_list(self) -> list[dict]:
        with self._lock:
            return [dict(rule) for rule in self._faults]

    def _checked_fault(self, rule: Any) -> dict:
        if not isinstance(rule, dict):
            raise BadInput("a fault rule must be a JSON object")
        unknown = set(rule) - FAULT_FIELDS
        if unknown:
            raise BadInput(f"unknown fault fields: {', '.join(sorted(unknown))}")
        kind = str(rule.get("kind", ""))
        if kind not in FAULT_KINDS:
            raise BadInput(f"kind must be one of: {', '.join(sorted(FAULT_KINDS))}")
        method = self._canonical_method(rule.get("method", "sendMessage"))
        if method is None:
            raise BadInput(f"method must be one of: {', '.join(self._methods)}")
        chat_id = rule.get("chat_id")
        if chat_id is not None and not _is_int(chat_id):
            raise BadInput("chat_id must be an integer")
        times = rule.get("times", 1)
        if not _is_int(times) or times < -1 or times == 0:
            raise BadInput("times must be a positive integer, or -1 for until cleared")
        retry_after = rule.get("retry_after", 1)
        if not _is_int(retry_after) or retry_after < 0:
            raise BadInput("retry_after must be a non-negative integer")
        delay = rule.get("delay", 0)
        if not _is_number(delay) or not 0 <= delay <= MAX_FAULT_DELAY:
            raise BadInput(f"delay must be a number of seconds up to {MAX_FAULT_DELAY}")
        migrate_to = rule.get("migrate_to_chat_id")
        if kind == "migrate" and not _is_int(migrate_to):
            raise BadInput("a migrate fault needs an integer migrate_to_chat_id")
        return {
            "method": method,
            "chat_id": chat_id,
            "kind": kind,
            "times": times,
            "retry_after": retry_after,
            "delay": delay,
            "migrate_to_chat_id": migrate_to,
        }

    def block(self, chat_id: int) -> None:
        """Every send to chat_id answers 403 until unblock()."""
        with self._lock:
            self._blocked.add(_chat_arg(chat_id))

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.discard(_chat_arg(chat_id))

    def chat_not_found(self, chat_id: int) -> None:
        """Every send to chat_id answers 400 "chat not found" until reset()."""
        with self._lock:
            self._not_found.add(_chat_arg(chat_id))

    def migrate(self, chat_id: int, to: int) -> None:
        """Sends to chat_id answer the supergroup upgrade error pointing at `to`."""
        if not _is_int(to):
            raise BadInput("the new chat id must be an integer")
        with self._lock:
            self._migrated[_chat_arg(chat_id)] = to

    def set_limits(
        self,
        per_chat_per_second: float | None = None,
        global_per_second: float | None = None,
    ) -> None:
        """Answer 429 past these sendMessage rates (sliding one-second window); None is off."""
        for name, value in (
            ("per_chat_per_second", per_chat_per_second),
            ("global_per_second", global_per_second),
        ):
            if value is not None and (not _is_number(value) or value <= 0):
                raise BadInput(f"{name} must be a positive number or null")
        with self._lock:
            self._per_chat_limit = per_chat_per_second
            self._global_limit = global_per_second
            self._recent_sends.clear()

    # -- the Bot API ------------------------------------------------------------

    def _canonical_method(self, name: Any) -> str | None:
        # Bot API method names are case-insensitive.
        if isinstance(name, str):
            for method in self._methods:
                if method.lower() == name.lower():
                    return method
        return None

    def _call(self, token: str, method: str, query: str, content_type: str, body: bytes) -> dict:
        """Answer one Bot API request, or raise ApiError or DropConnection."""
        name = self._canonical_method(method) or method
        with self._lock:
            self._counts[name] += 1
        try:
            return self._answer(token, name, query, content_type, body)
        except ApiError as error:
            if error.code == 429:
                with self._lock:
                    self._rate_limited += 1
            raise

    def _answer(self, token: str, name: str, query: str, content_type: str, body: bytes) -> dict:
        if self.token is not None and token != self.token:
            raise ApiError(401, "Unauthorized")
        handler = self._methods.get(name)
        if handler is None:
            raise ApiError(404, "Not Found")
        params = _bot_params(query, content_type, body)
        with self._lock:
            rule = self._take_fault(name, _parse_chat_id(params.get("chat_id")))
        if rule is not None:
            if rule["kind"] != "slow":
                raise _fault_error(rule)
            resets = self._resets
            self._stopping.wait(rule["delay"])
            # A test that has moved on must not find this late send among its own.
            if self._resets != resets:
                raise DropConnection()
        return handler(params)

    def _take_fault(self, method: str, chat_id: int | None) -> dict | None:
        for rule in self._faults:
            if rule["method"] != method:
                continue
            if rule["chat_id"] is not None and rule["chat_id"] != chat_id:
                continue
            if rule["times"] > 0:
                rule["times"] -= 1
                if rule["times"] == 0:
                    self._faults.remove(rule)
            return rule
        return None

    def _bot_user(self) -> dict:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": self.bot_username,
        }

    def _get_me(self, params: dict) -> dict:
        return _ok(
            {
                **self._bot_user(),
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )

    def _send_message(self, params: dict) -> dict:
        chat_id = _required_chat_id(params)
        text = _text_param(params.get("text"))
        parse_mode = _parse_mode(params.get("parse_mode"))
        shown = text
        if parse_mode == "HTML":
            try:
                shown = parse_html(text)
            except EntityError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        # Telegram counts code points of the text left after parsing the markup.
        if len(shown) > MAX_TEXT_LENGTH:
            raise ApiError(400, TOO_LONG)
        _json_param(params, "link_preview_options")
        with self._lock:
            self._check_chat(chat_id)
            self._check_rate(chat_id)
            record = {
                "chat_id": chat_id,
                "message_id": self._next_message_id(chat_id),
                "text": text,
                "date": int(time.time()),
            }
            if parse_mode:
                record["parse_mode"] = parse_mode
            self._sent.append(record)
            chat = self._chat(chat_id)
            self._changed.notify_all()
        return _ok(
            {
                "message_id": record["message_id"],
                "from": self._bot_user(),
                "chat": chat,
                "date": record["date"],
                "text": shown,
            }
        )

    def _check_chat(self, chat_id: int) -> None:
        if chat_id in self._not_found:
            raise ApiError(400, CHAT_NOT_FOUND)
        if chat_id in self._migrated:
            raise ApiError(400, MIGRATED, {"migrate_to_chat_id": self._migrated[chat_id]})
        if chat_id in self._blocked:
            raise ApiError(403, BLOCKED)

    def _check_rate(self, chat_id: int) -> None:
        if self._per_chat_limit is None and self._global_limit is None:
            return
        now = time.monotonic()
        while self._recent_sends and self._recent_sends[0][0] <= now - 1:
            self._recent_sends.popleft()
        waits = []
        if self._global_limit is not None and len(self._recent_sends) >= self._global_limit:
            waits.append(self._recent_sends[0][0] + 1 - now)
        if self._per_chat_limit is not None:
            times = [when for when, chat in self._recent_sends if chat == chat_id]
            if len(times) >= self._per_chat_limit:
                waits.append(times[0] + 1 - now)
        if waits:
            raise too_many_requests(max(1, math.ceil(max(waits))))
        self._recent_sends.append((now, chat_id))

    def _next_message_id(self, chat_id: int) -> int:
        # One sequence per chat, shared by the user's and the bot's messages.
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _chat(self, chat_id: int) -> dict:
        if chat_id > 0:
            return {"id": chat_id, **self._users.get(chat_id, {}), "type": "private"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "title": f"Chat {chat_id}", "type": kind}

    def _get_updates(self, params: dict) -> dict:
        offset = _int_param(params, "offset", 0)
        limit = _int_param(params, "limit", 100)
        if not 1 <= limit <= 100:
            limit = 100
        timeout = min(max(_int_param(params, "timeout", 0), 0), MAX_POLL_TIMEOUT)
        allowed = _allowed_updates_param(params)
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._webhook:
                raise ApiError(409, WEBHOOK_ACTIVE)
            # The newest poller wins; an older one still waiting gets a 409.
            self._poll_ticket += 1
            ticket = self._poll_ticket
            self._changed.notify_all()
            if allowed is not None:
                self._allowed_updates = set(allowed) or None
            self._confirm(offset)
            while True:
                if self._poll_ticket != ticket:
                    raise ApiError(409, POLL_CONFLICT)
                if self._webhook:
                    raise ApiError(409, WEBHOOK_ACTIVE)
                remaining = deadline - time.monotonic()
                if self._updates or remaining <= 0 or self._stopping.is_set():
                    return _ok(self._updates[:limit])
                self._changed.wait(remaining)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            # A negative offset keeps only the last -offset updates.
            self._updates = self._updates[offset:]

    def _set_webhook(self, params: dict) -> dict:
        url = params.get("url")
        url = url if isinstance(url, str) else ""
        secret_token = params.get("secret_token") or None
        if secret_token is not None and not (isinstance(secret_token, str) and _SECRET_TOKEN.fullmatch(secret_token)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ApiError(400, "Bad Request: invalid webhook URL specified")
        allowed = _allowed_updates_param(params)
        max_connections = _int_param(params, "max_connections", 40)
        max_connections = min(max(max_connections, 1), 100)
        drop_pending = _bool_param(params.get("drop_pending_updates"))
        with self._lock:
            if drop_pending:
                self._updates = []
            if allowed is not None:
                self._allowed_updates = set(allowed) or None
            if not url:
                return _ok(True, self._remove_webhook())
            already = self._webhook is not None and self._webhook["url"] == url
            # Replaced, never mutated: the sender notices a change by identity.
            self._webhook = {
                "url": url,
                "secret_token": secret_token,
                "max_connections": max_connections,
            }
            self._changed.notify_all()
        return _ok(True, "Webhook is already set" if already else "Webhook was set")

    def _delete_webhook(self, params: dict) -> dict:
        drop_pending = _bool_param(params.get("drop_pending_updates"))
        with self._lock:
            if drop_pending:
                self._updates = []
            return _ok(True, self._remove_webhook())

    def _remove_webhook(self) -> str:
        was_set = self._webhook is not None
        self._webhook = None
        self._changed.notify_all()
        return "Webhook was deleted" if was_set else "Webhook is already deleted"

    def _get_webhook_info(self, params: dict) -> dict:
        with self._lock:
            info: dict[str, Any] = {
                "url": self._webhook["url"] if self._webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook:
                info["max_connections"] = self._webhook["max_connections"]
                if self._allowed_updates:
                    info["allowed_updates"] = sorted(self._allowed_updates)
            if self._last_webhook_error:
                date, message = self._last_webhook_error
                info["last_error_date"] = date
                info["last_error_message"] = message
        return _ok(info)

    # -- webhook delivery -------------------------------------------------------

    def _webhook_sender(self) -> None:
        # One update at a time, in order, like Telegram with max_connections=1.
        while True:
            with self._lock:
                while not self._stopping.is_set() and not (self._webhook and self._updates):
                    self._changed.wait()
                if self._stopping.is_set():
                    return
                hook, update = self._webhook, self._updates[0]
            if self._deliver(hook, update):
                with self._lock:
                    # reset() or drop_pending_updates may have emptied the queue.
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)

    def _deliver(self, hook: dict, update: dict) -> bool:
        """POST one update, retrying; False leaves it queued (webhook changed or stopping)."""
        for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
            status, error = _post_json(hook["url"], update, hook["secret_token"])
            with self._lock:
                if self._webhook is not hook:
                    return error is None
                self._deliveries.append(
                    {
                        "update_id": update.get("update_id"),
                        "url": hook["url"],
                        "attempt": attempt,
                        "status": status,
                        "ok": error is None,
                        "error": error,
                        "date": int(time.time()),
                    }
                )
                if error is not None:
                    self._last_webhook_error = (int(time.time()), error)
            if error is None:
                return True
            if self._stopping.wait(WEBHOOK_RETRY_DELAY):
                return False
        # Telegram retries for hours; giving up keeps one bad update from
        # stalling the queue for the rest of a test run.
        return True

    # -- the control API over HTTP ----------------------------------------------

    def _control(self, verb: str, path: str, query: dict[str, str], body: Any) -> dict | None:
        """Answer /_control/...; None means no such endpoint."""
        done = {"ok": True}
        match verb, path.rstrip("/").split("/")[2:]:
            case "POST", ["updates"]:
                return {"update_id": self.push_update(body)}
            case "POST", ["users", user_id, "messages"]:
                fields = _object(body, {"text", "first_name", "username", "language_code"})
                update_id, message_id = self._user_message(
                    _int_arg(user_id, "user id"),
                    fields.get("text"),
                    first_name=fields.get("first_name", "Alice"),
                    username=fields.get("username"),
                    language_code=fields.get("language_code", "ru"),
                )
                return {"update_id": update_id, "message_id": message_id}
            case "POST", ["users", user_id, ("block" | "unblock") as action]:
                _object(body, set())
                user = _int_arg(user_id, "user id")
                change = self.user_blocks_bot if action == "block" else self.user_unblocks_bot
                return {"update_id": change(user)}
            case "GET", ["sent"]:
                return {"messages": self.sent(_query_chat_id(query))}
            case "GET", ["wait_sent"]:
                count = _query_number(query, "count", 1)
                timeout = min(_query_number(query, "timeout", 10), MAX_WAIT_SENT)
                messages, complete = self._wait_sent(count, timeout, _query_chat_id(query))
                return {"messages": messages, "complete": complete}
            case "GET", ["requests"]:
                return self.request_counts()
            case "GET", ["faults"]:
                return {"rules": self._fault_list()}
            case "POST", ["faults"]:
                rules = body["rules"] if isinstance(body, dict) and "rules" in body else [body]
                if not isinstance(rules, list):
                    raise BadInput("rules must be a list")
                self._add_faults(rules)
                return done
            case "DELETE", ["faults"]:
                self.clear_faults()
                return done
            case "POST", ["chats", chat_id, "migrate"]:
                to = _object(body, {"to"}).get("to")
                self.migrate(_int_arg(chat_id, "chat id"), to)
                return done
            case "POST", ["chats", chat_id, action]:
                actions = {
                    "block": self.block,
                    "unblock": self.unblock,
                    "not_found": self.chat_not_found,
                }
                if action not in actions:
                    return None
                actions[action](_int_arg(chat_id, "chat id"))
                return done
            case "POST", ["limits"]:
                self.set_limits(**_object(body, {"per_chat_per_second", "global_per_second"}))
                return done
            case "POST", ["reset"]:
                self.reset()
                return done
            case "GET", ["webhook"]:
                return self._webhook_state()
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakegram"
    # Idle keep-alive connections end eventually; longer than any long poll.
    timeout = 120
    # Headers and body go out in two writes; Nagle would hold the body back ~40 ms.
    disable_nagle_algorithm = True
    fake: FakeTelegram

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if url.path == "/_control" or url.path.startswith("/_control/"):
            self._control(url.path, url.query, body)
        else:
            self._bot_api(url.path, url.query, body)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request lines carry the bot token."""

    def _bot_api(self, path: str, query: str, body: bytes) -> None:
        match = _BOT_PATH.fullmatch(path)
        if match is None:
            self._reply(404, ApiError(404, "Not Found").body())
            return
        token, method = unquote(match[1]), match[2]
        content_type = self.headers.get("Content-Type", "")
        try:
            answer = self.fake._call(token, method, query, content_type, body)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except ApiError as error:
            headers = {}
            if error.parameters and "retry_after" in error.parameters:
                headers["Retry-After"] = str(error.parameters["retry_after"])
            self._reply(error.code, error.body(), headers)
            return
        self._reply(200, answer)

    def _control(self, path: str, query: str, body: bytes) -> None:
        try:
            answer = self.fake._control(self.command, path, dict(parse_qsl(query)), _json_body(body))
        except BadInput as error:
            self._reply(400, {"error": str(error)})
            return
        if answer is None:
            self._reply(404, {"error": f"no control endpoint {self.command} {path}"})
            return
        self._reply(200, answer)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(chunks)

    def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up, e.g. in the middle of a long poll.
            self.close_connection = True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # Telegram does not follow webhook redirects; a 3xx counts as a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# Webhooks go straight to the URL, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def _post_json(url: str, payload: dict, secret_token: str | None) -> tuple[int | None, str | None]:
    """POST JSON; returns (status or None, error message or None)."""
    headers = {"Content-Type": "application/json"}
    if secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
    request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=WEBHOOK_TIMEOUT) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, f"Wrong response from the webhook: {error.code} {error.reason}"
    except (OSError, http.client.HTTPException, ValueError) as error:
        return None, f"Connection failed: {getattr(error, 'reason', error)}"


# -- parameters, the way the Bot API reads them -----------------------------------


def _bot_params(query: str, content_type: str, body: bytes) -> dict:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";")[0].strip().lower()
    if body and media_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: can't parse JSON object")
        params.update(data)
    elif body and media_type in ("", "application/x-www-form-urlencoded"):
        form = body.decode("utf-8", errors="replace")
        params.update(parse_qsl(form, keep_blank_values=True))
    return params


def _parse_chat_id(value: Any) -> int | None:
    # Form values arrive as strings; Telegram reads "123" as the chat 123.
    if _is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _required_chat_id(params: dict) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    chat_id = _parse_chat_id(value)
    # No public @usernames exist in the simulator, so those are unknown chats too.
    if chat_id is None:
        raise ApiError(400, CHAT_NOT_FOUND)
    return chat_id


def _text_param(value: Any) -> str:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    return ""


def _parse_mode(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.lower() in PARSE_MODES:
        return PARSE_MODES[value.lower()]
    raise ApiError(400, "Bad Request: unsupported parse_mode")


def _int_param(params: dict, name: str, default: int) -> int:
    # Like the official server, a value that is not a number is ignored.
    value = params.get(name)
    parsed = _parse_chat_id(value)
    return default if parsed is None else parsed


def _bool_param(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1")


def _json_param(params: dict, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            readable = name.replace("_", " ")
            raise ApiError(400, f"Bad Request: can't parse {readable} JSON object") from None
    return value or None


def _allowed_updates_param(params: dict) -> list[str] | None:
    value = _json_param(params, "allowed_updates")
    if value is None and "allowed_updates" not in params:
        return None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "Bad Request: can't parse allowed updates JSON object")
    return value


def _ok(result: Any, description: str | None = None) -> dict:
    body = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return body


def _fault_error(rule: dict) -> Exception:
    kind = rule["kind"]
    if kind == "429":
        return too_many_requests(rule["retry_after"])
    if kind == "500":
        return ApiError(500, "Internal Server Error")
    if kind == "502":
        return ApiError(502, "Bad Gateway")
    if kind == "403":
        return ApiError(403, BLOCKED)
    if kind == "chat_not_found":
        return ApiError(400, CHAT_NOT_FOUND)
    if kind == "migrate":
        return ApiError(400, MIGRATED, {"migrate_to_chat_id": rule["migrate_to_chat_id"]})
    if kind == "too_long":
        # A refusal that no retry changes, and not about the chat.
        return ApiError(400, TOO_LONG)
    return DropConnection()


# -- control input ----------------------------------------------------------------


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise BadInput("the body is not valid JSON") from None


def _object(body: Any, fields: set[str]) -> dict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadInput("expected a JSON object")
    unknown = set(body) - fields
    if unknown:
        raise BadInput(f"unknown fields: {', '.join(sorted(unknown))}")
    return body


def _int_arg(text: str, what: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise BadInput(f"{what} must be an integer")
    return int(text)


def _chat_arg(chat_id: Any) -> int:
    if not _is_int(chat_id):
        raise BadInput("chat_id must be an integer")
    return chat_id


def _query_chat_id(query: dict[str, str]) -> int | None:
    value = query.get("chat_id")
    return None if value is None else _int_arg(value, "chat_id")


def _query_number(query: dict[str, str], name: str, default: float) -> float:
    value = query.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise BadInput(f"{name} must be a number") from None
    if not 0 <= number < math.inf:
        raise BadInput(f"{name} must be a non-negative number")
    return number


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utf16_length(text: str) -> int:
    # Entity offsets and lengths are counted in UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2
