"""A simulated Telegram Bot API server, hand-written because no library simulates the Bot API server for tests.

Telegram cannot be reached from where tg-relay is tested, so this server plays its
part: it answers the subset of the Bot API the relay uses (getMe, sendMessage,
sendDocument, sendPhoto, getUpdates, setWebhook, deleteWebhook, getWebhookInfo) with
Telegram's JSON shapes, status codes and descriptions, and adds a control API under
/_control/ through which tests inject user messages, script faults and read what was sent:

    tg = FakeTelegram(token="123:abc").start()
    # point the relay at tg.url, then
    tg.user_says(42, "/start")
    tg.wait_sent(1)
    tg.stop()

Users press the bot's callback buttons (press_button: a callback_query the bot answers
with answerCallbackQuery) and reply to its messages (user_replies). The bot edits its
own messages with editMessageText and editMessageReplyMarkup; the sent record is
changed in place and keeps what it replaced under "edits".

A user blocking the bot (user_blocks_bot) both makes sends to them answer 403 and
queues a my_chat_member update, as Telegram does; chats/<id>/block only does the
former, like a block the bot was never told about.

Groups, supergroups, forums and channels made with create_group / create_channel are
checked strictly: the bot must be in them (add_bot_to_group, set_bot_rights), privacy
mode hides ordinary chatter, topics can be closed or deleted, an upgraded group points
at its supergroup. Negative chat ids a test merely invents stay lenient, as before.
getChatMember and deleteMessage answer for all of them.

Formatting sent as an entity array is checked as Telegram checks it; what Telegram
would only repair quietly (partial overlaps, entities inside code or pre) is listed in
the sent record's "entity_problems". Inline keyboards are checked and shown with the
message. Files arrive as multipart/form-data uploads within Telegram's size limits;
the sent log keeps their name, size, type and SHA-256, not their bytes.

All state lives in memory behind one lock. A Condition on that lock wakes long polls,
wait_sent and the webhook sender whenever something changes.
"""

import contextlib
import copy
import email.message
import hashlib
import http.client
import json
import math
import mimetypes
import re
import secrets
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fakegram.entities import EntityError, InvalidEntities, check_entities, parse_html, url_problem

BOT_ID = 7000000001
BOT_FIRST_NAME = "tg-relay demo"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
# Uploads through the cloud Bot API: 50 MB for any file, 10 MB for a photo (tdlib's 10 << 20).
MAX_DOCUMENT_SIZE = 50 * 1024 * 1024
MAX_PHOTO_SIZE = 10 * 1024 * 1024
# Telegram's front server refuses a bigger request body before the Bot API reads it;
# the margin leaves room for the form fields around a file of the largest size.
MAX_REQUEST_SIZE = MAX_DOCUMENT_SIZE + 1024 * 1024
# A photo's width and height may add up to 10000 pixels, in a ratio of at most 20.
MAX_PHOTO_SIDES = 10000
MAX_PHOTO_RATIO = 20
# The sides of the sizes Telegram makes of a photo (s, m, x, y, w), the largest its original.
PHOTO_BOXES = (90, 320, 800, 1280, 2560)
MAX_CALLBACK_DATA = 64
# The text of an answer to a callback query: 0-200 characters.
MAX_CALLBACK_ANSWER = 200
# Callback query ids are long numeric strings in Telegram; these count up from here.
FIRST_CALLBACK_ID = 4204000000000000000
MAX_POLL_TIMEOUT = 50
MAX_WAIT_SENT = 60
MAX_FAULT_DELAY = 60
WEBHOOK_ATTEMPTS = 4
WEBHOOK_RETRY_DELAY = 0.2
WEBHOOK_TIMEOUT = 5
# Basic groups count down from the first; supergroups and channels share the -100… range.
FIRST_GROUP_ID = -4000000000
FIRST_SUPERGROUP_ID = -1001000000000
MAX_TITLE_LENGTH = 128
# A bot may delete its own messages, and incoming ones in private chats, for 48 hours.
DELETE_WINDOW = 48 * 3600
# Telegram offers these six colours for a new topic's icon.
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
BOT_STATUSES = frozenset({"administrator", "member", "left"})
# The sender Telegram shows for anonymous group administrators, with sender_chat = the group.
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}

FAULT_KINDS = frozenset({"429", "500", "502", "drop", "slow", "403", "chat_not_found", "migrate", "too_long"})
FAULT_FIELDS = frozenset({"method", "chat_id", "kind", "times", "retry_after", "delay", "migrate_to_chat_id"})
# What a sent record's "edits" keep of the content each edit replaced.
EDIT_HISTORY_FIELDS = ("text", "caption", "parse_mode", "entities", "caption_entities", "reply_markup")
PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}
# Left out unless allowed_updates names them (TELEGRAM.md: my_chat_member too).
OPT_IN_UPDATES = frozenset({"chat_member", "my_chat_member", "message_reaction", "message_reaction_count"})

BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
REQUEST_TOO_LARGE = "Request Entity Too Large"
IMAGE_PROCESS_FAILED = "Bad Request: IMAGE_PROCESS_FAILED"
PHOTO_INVALID_DIMENSIONS = "Bad Request: PHOTO_INVALID_DIMENSIONS"
EMPTY_FILE = "Bad Request: file must be non-empty"
WRONG_FILE_ID = "Bad Request: wrong file identifier/HTTP URL specified"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BUTTON_TEXT_INVALID = "Bad Request: BUTTON_TEXT_INVALID"
TOPIC_CLOSED = "Bad Request: TOPIC_CLOSED"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
NEED_ADMIN = "Bad Request: need administrator rights in the channel chat"
CANT_DELETE = "Bad Request: message can't be deleted"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
NO_MESSAGE_ID = "Bad Request: message identifier is not specified"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
CANT_EDIT = "Bad Request: message can't be edited"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"
    " as a current content and reply markup of the message"
)
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
INLINE_KEYBOARD_EXPECTED = "Bad Request: inline keyboard expected"
# What Telegram answers for an edited text over 4096 characters, or an answer text over 200.
MESSAGE_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
INVALID_USER_ID = "Bad Request: invalid user_id specified"
USER_NOT_FOUND = "Bad Request: user not found"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

_BOT_PATH = re.compile(r"/bot([^/]*)/([^/]*)")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]+)?")
_INTEGER = re.compile(r"\s*-?\d+\s*")
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CHANNEL_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


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
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getChatMember": self._get_chat_member,
            "deleteMessage": self._delete_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
        }
        # These only grow, even across reset(), as in Telegram: a relay that is
        # still polling with an old offset must not mistake new updates for old.
        self._next_update_id = 1
        self._last_message_id: dict[int, int] = {}
        self._poll_ticket = 0
        self._groups_made = 0
        self._supergroups_made = 0
        self._callbacks_made = 0
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
        self._group_limit: float | None = None
        self._group_sends: dict[int, deque[float]] = {}
        # Groups and channels by id: title, type, members, the bot's own status and rights, topics.
        self._groups: dict[int, dict] = {}
        # Users seen in groups, as User objects.
        self._people: dict[int, dict] = {}
        # Every message known by (chat_id, message_id), for replies and deleteMessage.
        self._messages: dict[tuple[int, int], dict] = {}
        self._deleted: list[dict] = []
        # Callback queries by id, in the order pressed, and the bot's answers to them.
        self._callbacks: dict[str, dict] = {}
        self._answers: list[dict] = []

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
        reply_to: int | None = None,
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
            if reply_to is not None and not self._exists(user_id, reply_to):
                raise BadInput(f"there is no message {reply_to} in {user_id} to reply to")
            message = {
                "message_id": self._next_message_id(user_id),
                "from": sender,
                "chat": chat,
                "date": int(time.time()),
            }
            if reply_to is not None:
                message["reply_to_message"] = self._quoted(user_id, reply_to)
            message["text"] = text
            command = _COMMAND.match(text)
            if command:
                length = _utf16_length(command.group())
                message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
            self._users[user_id] = {key: value for key, value in chat.items() if key != "type"}
            self._remember(user_id, message, by_bot=False)
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

    # -- control: buttons, answers and replies ----------------------------------

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        *,
        user_id: int,
        data: str | None = None,
        text: str | None = None,
    ) -> int | None:
        """A user presses a callback button under the bot's message: a callback_query update.

        The button is found by its callback_data or its text (both, when given, must name the
        same button); a URL button only opens its link, so it cannot be pressed this way. Returns
        the update_id, or None when the bot receives nothing: it is no longer in the group or
        channel, or the user blocked it. The query waits for answerCallbackQuery.
        """
        return self._press(chat_id, message_id, user_id=user_id, data=data, text=text)[0]

    def _press(
        self, chat_id: Any, message_id: Any, *, user_id: Any, data: Any, text: Any
    ) -> tuple[int | None, str | None]:
        chat_id = _chat_arg(chat_id)
        message_id = _user_arg(message_id, "message_id")
        user_id = _user_arg(user_id, "user_id")
        if data is None and text is None:
            raise BadInput("name the button by its data or its text")
        for name, value in (("data", data), ("text", text)):
            if value is not None and not isinstance(value, str):
                raise BadInput(f"{name} must be a string")
        with self._lock:
            entry = self._bot_message(chat_id, message_id)
            button = _find_button(entry["message"], data, text)
            group = self._groups.get(chat_id)
            if group is None and chat_id > 0 and user_id != chat_id:
                raise BadInput(f"only the user {chat_id} sees the buttons of the private chat {chat_id}")
            if group is not None and group["type"] != "channel":
                group["members"].setdefault(user_id, "member")
            if group is not None and group["bot"]["status"] not in ("member", "administrator"):
                return None, None
            if group is None and chat_id in self._blocked:
                return None, None
            self._callbacks_made += 1
            query_id = str(FIRST_CALLBACK_ID + self._callbacks_made)
            self._callbacks[query_id] = {
                "id": query_id,
                "chat_id": chat_id,
                "message_id": message_id,
                "user_id": user_id,
                "data": button["callback_data"],
                "date": int(time.time()),
                "answered": False,
            }
            query = {
                "id": query_id,
                "from": self._person(user_id),
                # The message as it is now, edits included; a copy, so later edits leave the update alone.
                "message": copy.deepcopy(entry["message"]),
                "chat_instance": _chat_instance(chat_id),
                "data": button["callback_data"],
            }
            return self._push({"callback_query": query}), query_id

    def callback_queries(self) -> list[dict]:
        """Every button press the bot received, in order: id, chat_id, message_id, user_id, data, date, answered."""
        with self._lock:
            return [dict(query) for query in self._callbacks.values()]

    def answered_callbacks(self) -> list[dict]:
        """The bot's answerCallbackQuery calls that succeeded, in order.

        Each: callback_query_id, chat_id, message_id, user_id, data, date, show_alert, and
        text, url and cache_time when the bot gave them.
        """
        with self._lock:
            return [dict(answer) for answer in self._answers]

    def wait_answered(self, count: int, timeout: float = 10) -> list[dict]:
        """Wait until the bot answered at least `count` callback queries; returns the answers."""
        return self._wait_answered(count, timeout)[0]

    def _wait_answered(self, count: float, timeout: float) -> tuple[list[dict], bool]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                remaining = deadline - time.monotonic()
                if len(self._answers) >= count or remaining <= 0 or self._stopping.is_set():
                    return [dict(answer) for answer in self._answers], len(self._answers) >= count
                self._changed.wait(remaining)

    def user_replies(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        user_id: int,
        first_name: str = "Alice",
    ) -> int | None:
        """A user replies to the bot's message: a message update whose reply_to_message is that message.

        In a private chat the user must be its user; in a forum topic the reply stays in the
        topic. Privacy mode lets replies to the bot through, so the bot receives it wherever
        it is a member; returns the update_id, or None when the bot has left the group.
        """
        return self._user_reply(chat_id, message_id, text, user_id=user_id, first_name=first_name)[0]

    def _user_reply(
        self,
        chat_id: Any,
        message_id: Any,
        text: Any,
        *,
        user_id: Any,
        first_name: Any,
    ) -> tuple[int | None, int]:
        chat_id = _chat_arg(chat_id)
        message_id = _user_arg(message_id, "message_id")
        user_id = _user_arg(user_id, "user_id")
        with self._lock:
            entry = self._bot_message(chat_id, message_id)
            thread_id = entry["message"].get("message_thread_id")
            in_group = chat_id in self._groups
            known = self._people.get(user_id) if in_group else self._users.get(user_id)
            username = (known or {}).get("username")
        if in_group:
            return self._group_user_message(
                chat_id,
                user_id,
                text,
                thread_id=thread_id,
                first_name=first_name,
                username=username,
                reply_to=message_id,
            )
        if chat_id > 0:
            if user_id != chat_id:
                raise BadInput(f"only the user {chat_id} writes in the private chat {chat_id}")
            return self._user_message(
                user_id,
                text,
                first_name=first_name,
                username=username,
                language_code="ru",
                reply_to=message_id,
            )
        return self._reply_in_unknown_group(chat_id, message_id, text, user_id=user_id, first_name=first_name)

    def _reply_in_unknown_group(
        self,
        chat_id: int,
        message_id: int,
        text: Any,
        *,
        user_id: int,
        first_name: Any,
    ) -> tuple[int, int]:
        # A group a test merely invented is lenient: the bot receives the reply.
        if not isinstance(text, str) or not text:
            raise BadInput("text must be a non-empty string")
        if not isinstance(first_name, str) or not first_name:
            raise BadInput("first_name must be a non-empty string")
        with self._lock:
            if not self._exists(chat_id, message_id):
                raise BadInput(f"there is no message {message_id} in {chat_id} to reply to")
            message = {
                "message_id": self._next_message_id(chat_id),
                "from": {"id": user_id, "is_bot": False, "first_name": first_name},
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "reply_to_message": self._quoted(chat_id, message_id),
                "text": text,
            }
            _add_command_entity(message)
            self._remember(chat_id, message, by_bot=False)
            return self._push({"message": message}), message["message_id"]

    def _bot_message(self, chat_id: int, message_id: int) -> dict:
        """The bot's live message, for what users do with it; BadInput otherwise."""
        entry = self._messages.get((chat_id, message_id))
        if entry is None or entry["deleted"]:
            raise BadInput(f"there is no message {message_id} in {chat_id}")
        if not entry["by_bot"]:
            raise BadInput(f"the message {message_id} in {chat_id} is not the bot's")
        return entry

    # -- control: what the bot sent ---------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[dict]:
        """Messages accepted by sendMessage, sendDocument and sendPhoto, in send order.

        A text is as the client sent it. Records of files carry "method"; records of texts do not.
        """
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
        # Deep copies: records hold lists (entities, keyboards) a caller must not change in place.
        return [copy.deepcopy(message) for message in self._sent if chat_id is None or message["chat_id"] == chat_id]

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
        per_group_per_minute: float | None = None,
    ) -> None:
        """Answer 429 past these sendMessage rates; None is off.

        The per-second limits use a sliding one-second window; per_group_per_minute a sliding
        minute for each group, supergroup and channel (any negative id, its topics included).
        """
        for name, value in (
            ("per_chat_per_second", per_chat_per_second),
            ("global_per_second", global_per_second),
            ("per_group_per_minute", per_group_per_minute),
        ):
            if value is not None and (not _is_number(value) or value <= 0):
                raise BadInput(f"{name} must be a positive number or null")
        with self._lock:
            self._per_chat_limit = per_chat_per_second
            self._global_limit = global_per_second
            self._group_limit = per_group_per_minute
            self._recent_sends.clear()
            self._group_sends.clear()

    # -- control: groups, supergroups, forum topics and channels ----------------

    def create_group(
        self,
        title: str,
        *,
        supergroup: bool = False,
        forum: bool = False,
        members: dict[int, str] | None = None,
    ) -> int:
        """A new group without the bot; returns its id. A forum is a supergroup.

        members maps user ids to "creator", "administrator" or "member".
        """
        _check_title(title)
        supergroup = _bool_arg(supergroup, "supergroup")
        forum = _bool_arg(forum, "forum")
        checked = _checked_members(members)
        with self._lock:
            kind = "supergroup" if supergroup or forum else "group"
            chat_id = self._new_chat_id(kind)
            self._groups[chat_id] = _new_chat(chat_id, title, kind, is_forum=forum, members=checked)
            self._creation_message(chat_id)
            return chat_id

    def create_channel(self, title: str, *, username: str | None = None) -> int:
        """A new channel without the bot; returns its -100… id. With a username, "@username" reaches it."""
        _check_title(title)
        if username is not None and not (isinstance(username, str) and _CHANNEL_USERNAME.fullmatch(username)):
            raise BadInput("username must be 4-32 characters of A-Za-z0-9_, starting with a letter")
        with self._lock:
            if username is not None and self._chat_by_username(username) is not None:
                raise BadInput(f"the username {username} is taken")
            chat_id = self._new_chat_id("channel")
            self._groups[chat_id] = _new_chat(chat_id, title, "channel", username=username)
            self._creation_message(chat_id)
            return chat_id

    def add_bot_to_group(
        self,
        chat_id: int,
        *,
        by: int,
        start: str | None = None,
        administrator: bool = False,
    ) -> list[int]:
        """The t.me/<bot>?startgroup=<start> flow: user `by` adds the bot, then posts /start@<bot> <start>.

        Returns the ids of the my_chat_member update (when the bot's status changed) and of the message.
        """
        user_id = _user_arg(by, "by")
        if start is not None and not (isinstance(start, str) and _START_PAYLOAD.fullmatch(start)):
            raise BadInput("start must be 1-64 characters of A-Za-z0-9_-")
        administrator = _bool_arg(administrator, "administrator")
        with self._lock:
            group = self._live_chat(chat_id, kinds=("group", "supergroup"))
            group["members"].setdefault(user_id, "member")
            adder = self._person(user_id)
            update_ids = []
            current = group["bot"]["status"]
            # Adding a bot that is already there changes nothing, except a promotion.
            if current not in ("member", "administrator") or (administrator and current == "member"):
                status = "administrator" if administrator else "member"
                update_ids.append(self._set_bot(group, _bot_state(status, can_delete_messages=administrator), adder))
            if start is not None:
                message = self._new_message(group, adder, text=f"/start@{self.bot_username} {start}")
                update_ids.append(self._to_bot(group, message))
            return [update_id for update_id in update_ids if update_id is not None]

    def group_user_says(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        reply_to: int | None = None,
    ) -> int | None:
        """A user's text message in a group, in a forum topic when thread_id is given.

        Returns the update_id, or None when the bot does not receive it: it is not in the group,
        or privacy mode hides the message (not a command for this bot, not a reply to the bot).
        """
        update_id, _ = self._group_user_message(
            chat_id,
            user_id,
            text,
            thread_id=thread_id,
            first_name=first_name,
            username=username,
            reply_to=reply_to,
        )
        return update_id

    def _group_user_message(
        self,
        chat_id: Any,
        user_id: Any,
        text: Any,
        *,
        thread_id: Any,
        first_name: Any,
        username: Any,
        reply_to: Any,
    ) -> tuple[int | None, int]:
        user_id = _user_arg(user_id, "user_id")
        if not isinstance(text, str) or not text:
            raise BadInput("text must be a non-empty string")
        if not isinstance(first_name, str) or not first_name:
            raise BadInput("first_name must be a non-empty string")
        if username is not None and not isinstance(username, str):
            raise BadInput("username must be a string")
        for name, value in (("thread_id", thread_id), ("reply_to", reply_to)):
            if value is not None:
                _user_arg(value, name)
        sender = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            sender["username"] = username
        with self._lock:
            group = self._live_chat(chat_id, kinds=("group", "supergroup"))
            if thread_id is not None:
                topic = self._topic(group, thread_id)
                if topic["closed"] and group["members"].get(user_id, "member") == "member":
                    raise BadInput(f"topic {thread_id} is closed: only administrators may write there")
            if reply_to is not None and not self._exists(group["id"], reply_to):
                raise BadInput(f"there is no message {reply_to} in {group['id']} to reply to")
            # Whoever writes in a group is in it.
            group["members"].setdefault(user_id, "member")
            self._people[user_id] = sender
            message = self._new_message(group, sender, text=text, thread_id=thread_id, reply_to=reply_to)
            return self._to_bot(group, message), message["message_id"]

    def create_topic(self, chat_id: int, name: str, *, by: int | None = None) -> int:
        """A new forum topic; returns its message_thread_id, the id of its forum_topic_created message."""
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_TITLE_LENGTH:
            raise BadInput(f"name must be 1-{MAX_TITLE_LENGTH} characters")
        with self._lock:
            group = self._live_forum(chat_id)
            actor = self._actor(group, by)
            color = TOPIC_COLORS[len(group["topics"]) % len(TOPIC_COLORS)]
            created = {"forum_topic_created": {"name": name, "icon_color": color}}
            message = self._new_message(group, actor, extra=created)
            thread_id = message["message_id"]
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            # Telegram refuses to delete the message a topic hangs on.
            self._messages[(group["id"], thread_id)]["undeletable"] = True
            group["topics"][thread_id] = {"name": name, "closed": False}
            self._to_bot(group, message)
            return thread_id

    def close_topic(self, chat_id: int, thread_id: int, *, by: int | None = None) -> int | None:
        """Close a topic: a forum_topic_closed message, and sends into it answer TOPIC_CLOSED."""
        return self._topic_closed(chat_id, thread_id, closed=True, by=by)

    def reopen_topic(self, chat_id: int, thread_id: int, *, by: int | None = None) -> int | None:
        """Reopen a closed topic, with a forum_topic_reopened message."""
        return self._topic_closed(chat_id, thread_id, closed=False, by=by)

    def _topic_closed(self, chat_id: Any, thread_id: Any, *, closed: bool, by: Any) -> int | None:
        with self._lock:
            group = self._live_forum(chat_id)
            topic = self._topic(group, thread_id)
            actor = self._actor(group, by)
            if topic["closed"] == closed:
                raise BadInput(f"topic {thread_id} is {'closed' if closed else 'open'} already")
            topic["closed"] = closed
            event = "forum_topic_closed" if closed else "forum_topic_reopened"
            message = self._new_message(group, actor, thread_id=thread_id, extra={event: {}})
            return self._to_bot(group, message)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a topic and its messages; Telegram tells the bot nothing."""
        with self._lock:
            group = self._live_forum(chat_id)
            self._topic(group, thread_id)
            del group["topics"][thread_id]
            for (chat, _), entry in self._messages.items():
                if chat == group["id"] and entry["message"].get("message_thread_id") == thread_id:
                    entry["deleted"] = True

    def remove_bot(self, chat_id: int, *, by: int | None = None, kicked: bool = True) -> int | None:
        """The bot is removed (kicked) from a group or channel, or leaves it (kicked=False).

        Returns the my_chat_member update id, or None when nothing changed.
        """
        kicked = _bool_arg(kicked, "kicked")
        with self._lock:
            group = self._live_chat(chat_id)
            # Leaving on its own, the bot itself is the one who changed its membership.
            actor = self._bot_user() if by is None and not kicked else self._actor(group, by)
            return self._set_bot(group, _bot_state("kicked" if kicked else "left"), actor)

    def set_bot_rights(
        self,
        chat_id: int,
        *,
        status: str = "administrator",
        can_post_messages: bool = True,
        can_delete_messages: bool = True,
        by: int | None = None,
    ) -> int | None:
        """Make the bot an administrator (with these rights), a member, or remove it ("left").

        Works for groups and channels; can_post_messages matters in channels only. Returns the
        my_chat_member update id, or None when nothing changed.
        """
        if not isinstance(status, str) or status not in BOT_STATUSES:
            raise BadInput(f"status must be one of: {', '.join(sorted(BOT_STATUSES))}")
        can_post_messages = _bool_arg(can_post_messages, "can_post_messages")
        can_delete_messages = _bool_arg(can_delete_messages, "can_delete_messages")
        with self._lock:
            group = self._live_chat(chat_id)
            state = _bot_state(
                status,
                can_post_messages=can_post_messages and group["type"] == "channel",
                can_delete_messages=can_delete_messages,
            )
            return self._set_bot(group, state, self._actor(group, by))

    def upgrade_group(self, chat_id: int, *, by: int | None = None) -> int:
        """A basic group becomes a supergroup; returns the new id.

        The old group gets a migrate_to_chat_id message and the new one a migrate_from_chat_id
        message (from the anonymous administrator, as Telegram sends it); members and the bot
        come along, and sends to the old id answer the upgrade error.
        """
        with self._lock:
            old = self._live_chat(chat_id, kinds=("group",))
            actor = self._actor(old, by)
            new_id = self._new_chat_id("supergroup")
            new = _new_chat(new_id, old["title"], "supergroup", members=dict(old["members"]))
            new["bot"] = dict(old["bot"])
            self._groups[new_id] = new
            old["migrated_to"] = new_id
            self._migrated[old["id"]] = new_id
            moved = self._new_message(old, actor, extra={"migrate_to_chat_id": new_id})
            arrived = self._new_message(new, dict(ANONYMOUS_ADMIN), extra={"migrate_from_chat_id": old["id"]})
            self._messages[(new_id, arrived["message_id"])]["undeletable"] = True
            self._to_bot(old, moved)
            self._to_bot(new, arrived)
            return new_id

    def channel_post(self, chat_id: int, text: str) -> tuple[int | None, int]:
        """A post in a channel; returns (update_id, message_id).

        The bot receives it as channel_post only while it is an administrator; update_id is None otherwise.
        """
        if not isinstance(text, str) or not text:
            raise BadInput("text must be a non-empty string")
        with self._lock:
            channel = self._live_chat(chat_id, kinds=("channel",))
            chat = self._chat(channel["id"])
            message = {
                "message_id": self._next_message_id(channel["id"]),
                "sender_chat": chat,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            _add_command_entity(message)
            self._remember(channel["id"], message, by_bot=False)
            message_id = message["message_id"]
            if channel["bot"]["status"] != "administrator":
                return None, message_id
            return self._push({"channel_post": message}), message_id

    def deleted(self, chat_id: int | None = None) -> list[dict]:
        """Messages deleteMessage removed, in order: {"chat_id", "message_id"}."""
        with self._lock:
            return [dict(each) for each in self._deleted if chat_id is None or each["chat_id"] == chat_id]

    def age_message(self, chat_id: int, message_id: int, seconds: float) -> None:
        """Make a message older by `seconds`, e.g. past the 48 hours in which a bot may delete it."""
        if not _is_number(seconds) or not 0 < seconds < math.inf:
            raise BadInput("seconds must be a positive number")
        key = (_chat_arg(chat_id), _user_arg(message_id, "message_id"))
        with self._lock:
            entry = self._messages.get(key)
            if entry is None:
                raise BadInput(f"there is no message {message_id} in {chat_id}")
            entry["date"] -= seconds
            if entry["record"] is not None:
                entry["record"]["date"] = int(entry["date"])

    def _new_chat_id(self, kind: str) -> int:
        if kind == "group":
            self._groups_made += 1
            return FIRST_GROUP_ID - self._groups_made
        self._supergroups_made += 1
        return FIRST_SUPERGROUP_ID - self._supergroups_made

    def _creation_message(self, chat_id: int) -> None:
        # Message 1 of a new chat is the service message that created it; it cannot be deleted.
        kind = self._groups[chat_id]["type"]
        message = {
            "message_id": self._next_message_id(chat_id),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            f"{'group' if kind == 'group' else kind}_chat_created": True,
        }
        self._remember(chat_id, message, by_bot=False, undeletable=True)

    def _live_chat(self, chat_id: Any, kinds: tuple[str, ...] | None = None) -> dict:
        group = self._groups.get(_chat_arg(chat_id))
        if group is None:
            raise BadInput(f"no group or channel {chat_id}: create it first")
        if group["migrated_to"] is not None:
            raise BadInput(f"the group {chat_id} was upgraded to the supergroup {group['migrated_to']}")
        if kinds is not None and group["type"] not in kinds:
            raise BadInput(f"{chat_id} is a {group['type']}, not a {' or '.join(kinds)}")
        return group

    def _live_forum(self, chat_id: Any) -> dict:
        group = self._live_chat(chat_id, kinds=("supergroup",))
        if not group["is_forum"]:
            raise BadInput(f"{chat_id} is not a forum: create it with forum=true")
        return group

    def _topic(self, group: dict, thread_id: Any) -> dict:
        if not group["is_forum"]:
            raise BadInput(f"{group['id']} is not a forum, so it has no topics")
        topic = group["topics"].get(_user_arg(thread_id, "thread_id"))
        if topic is None:
            raise BadInput(f"there is no topic {thread_id} in {group['id']}")
        return topic

    def _chat_by_username(self, username: str) -> int | None:
        for chat_id, group in self._groups.items():
            if group["username"] and group["username"].lower() == username.lower():
                return chat_id
        return None

    def _person(self, user_id: int) -> dict:
        if user_id in self._people:
            return dict(self._people[user_id])
        user = self._users.get(user_id, {"first_name": "Alice"})
        return {"id": user_id, "is_bot": False, **{key: value for key, value in user.items() if key != "id"}}

    def _actor(self, group: dict, by: Any) -> dict:
        """Who did something to the chat: `by`, else its creator, else an anonymous administrator."""
        if by is not None:
            return self._person(_user_arg(by, "by"))
        for user_id, status in group["members"].items():
            if status == "creator":
                return self._person(user_id)
        return dict(ANONYMOUS_ADMIN)

    def _set_bot(self, group: dict, state: dict, actor: dict) -> int | None:
        # Telegram reports changes only.
        old = group["bot"]
        if old == state:
            return None
        group["bot"] = state
        change = {
            "chat": self._chat(group["id"]),
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": self._bot_member(group, old),
            "new_chat_member": self._bot_member(group, state),
        }
        return self._push({"my_chat_member": change})

    def _bot_member(self, group: dict, state: dict) -> dict:
        return _chat_member(
            group["type"],
            self._bot_user(),
            state["status"],
            can_post_messages=state["can_post_messages"],
            can_delete_messages=state["can_delete_messages"],
        )

    def _new_message(
        self,
        group: dict,
        sender: dict,
        *,
        text: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        extra: dict | None = None,
    ) -> dict:
        """A message from a user (or a service message) in a group, remembered but not yet delivered."""
        chat_id = group["id"]
        message: dict[str, Any] = {"message_id": self._next_message_id(chat_id), "from": sender}
        chat = self._chat(chat_id)
        if sender["id"] == ANONYMOUS_ADMIN["id"]:
            message["sender_chat"] = chat
        message["chat"] = chat
        message["date"] = int(time.time())
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        # In a topic, a message that replies to nothing replies to the topic's first message.
        quoted = reply_to if reply_to is not None else thread_id
        if quoted is not None:
            message["reply_to_message"] = self._quoted(chat_id, quoted)
        if text is not None:
            message["text"] = text
            _add_command_entity(message)
        message.update(extra or {})
        self._remember(chat_id, message, by_bot=False)
        return message

    def _to_bot(self, group: dict, message: dict) -> int | None:
        """Push a group message if the bot receives it; its update_id, or None."""
        if not self._bot_sees(group, message):
            return None
        return self._push({"message": message})

    def _bot_sees(self, group: dict, message: dict) -> bool:
        status = group["bot"]["status"]
        # Privacy mode does not apply to administrators.
        if status == "administrator":
            return True
        if status != "member":
            return False
        text = message.get("text")
        if text is None:
            return True  # a service message
        command = _COMMAND.match(text)
        if command:
            _, _, addressee = command.group().partition("@")
            return not addressee or addressee.lower() == self.bot_username.lower()
        replied = message.get("reply_to_message", {})
        return replied.get("from", {}).get("id") == BOT_ID

    def _remember(
        self,
        chat_id: int,
        message: dict,
        *,
        by_bot: bool,
        record: dict | None = None,
        undeletable: bool = False,
    ) -> None:
        self._messages[(chat_id, message["message_id"])] = {
            "message": message,
            "date": time.time(),
            "by_bot": by_bot,
            "record": record,
            "deleted": False,
            "undeletable": undeletable,
        }

    def _exists(self, chat_id: int, message_id: int) -> bool:
        entry = self._messages.get((chat_id, message_id))
        return entry is not None and not entry["deleted"]

    def _quoted(self, chat_id: int, message_id: int) -> dict:
        # Telegram quotes one level deep.
        message = self._messages[(chat_id, message_id)]["message"]
        return {key: value for key, value in message.items() if key != "reply_to_message"}

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
        if len(body) > MAX_REQUEST_SIZE:
            raise ApiError(413, REQUEST_TOO_LARGE)
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
        chat_id = self._chat_id_param(params)
        text = _text_param(params.get("text"))
        parse_mode = _parse_mode(params.get("parse_mode"))
        shown = _shown_text(text, parse_mode)
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        entities, kept, problems = _entities(text, parse_mode, params, "entities")
        # Telegram counts code points of the text left after parsing the markup.
        if len(shown) > MAX_TEXT_LENGTH:
            raise ApiError(400, TOO_LONG)
        _json_param(params, "link_preview_options")
        markup, keyboard = _reply_markup(params)
        extras: dict[str, Any] = {}
        if parse_mode:
            extras["parse_mode"] = parse_mode
        # Only when given, so records of plain sends keep their shape.
        if entities is not None:
            extras["entities"] = entities
            extras["entity_problems"] = problems
        if markup is not None:
            extras["reply_markup"] = markup
        content: dict[str, Any] = {"text": shown}
        if kept:
            content["entities"] = kept
        return self._post(chat_id, params, {"text": text}, extras, content, keyboard)

    def _send_document(self, params: dict) -> dict:
        return self._send_file(params, "document")

    def _send_photo(self, params: dict) -> dict:
        return self._send_file(params, "photo")

    def _send_file(self, params: dict, kind: str) -> dict:
        """sendDocument or sendPhoto with an uploaded file; kind names the file's field."""
        chat_id = self._chat_id_param(params)
        upload = params.get(kind)
        if upload is None or upload == "":
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        # The simulator keeps no files, so no file_id or URL names one it could send.
        if not isinstance(upload, Upload):
            raise ApiError(400, WRONG_FILE_ID)
        if not upload.data:
            raise ApiError(400, EMPTY_FILE)
        if len(upload.data) > MAX_DOCUMENT_SIZE:
            raise ApiError(413, REQUEST_TOO_LARGE)
        caption = _text_param(params.get("caption"))
        parse_mode = _parse_mode(params.get("parse_mode"))
        shown = _shown_text(caption, parse_mode)
        entities, kept, problems = _entities(caption, parse_mode, params, "caption_entities")
        if len(shown) > MAX_CAPTION_LENGTH:
            raise ApiError(400, CAPTION_TOO_LONG)
        markup, keyboard = _reply_markup(params)
        content: dict[str, Any] = {kind: _photo_sizes(upload.data) if kind == "photo" else _document(upload)}
        fields = {
            "method": "sendPhoto" if kind == "photo" else "sendDocument",
            "file_name": upload.filename,
            "file_size": len(upload.data),
            "mime_type": upload.content_type,
            "sha256": hashlib.sha256(upload.data).hexdigest(),
        }
        extras: dict[str, Any] = {}
        if "caption" in params:
            extras["caption"] = caption
        if parse_mode:
            extras["parse_mode"] = parse_mode
        if entities is not None:
            extras["caption_entities"] = entities
            extras["entity_problems"] = problems
        if markup is not None:
            extras["reply_markup"] = markup
        if shown:
            content["caption"] = shown
        if kept:
            content["caption_entities"] = kept
        return self._post(chat_id, params, fields, extras, content, keyboard)

    def _post(
        self,
        chat_id: int,
        params: dict,
        fields: dict,
        extras: dict,
        content: dict,
        keyboard: dict | None,
    ) -> dict:
        """Send a checked message to the chat: record it, remember it, answer its Message.

        The record is chat_id, message_id, fields, date, extras, then the thread and
        notification options when given; content is what the Message shows.
        """
        thread_id = _parse_chat_id(params.get("message_thread_id"))
        silent = params.get("disable_notification")
        with self._lock:
            self._check_chat(chat_id)
            in_topic = self._check_thread(chat_id, thread_id)
            self._check_rate(chat_id)
            record = {
                "chat_id": chat_id,
                "message_id": self._next_message_id(chat_id),
                **fields,
                "date": int(time.time()),
                **extras,
            }
            if thread_id is not None:
                record["message_thread_id"] = thread_id
            if silent is not None and silent != "":
                record["disable_notification"] = _bool_param(silent)
            self._sent.append(record)
            chat = self._chat(chat_id)
            message: dict[str, Any] = {"message_id": record["message_id"], "from": self._bot_user()}
            if chat["type"] == "channel":
                # A channel's messages are signed by the channel, not by whoever posted them.
                message = {"message_id": record["message_id"], "sender_chat": chat}
            message.update({"chat": chat, "date": record["date"], **content})
            if in_topic:
                message["message_thread_id"] = thread_id
                message["is_topic_message"] = True
                message["reply_to_message"] = self._quoted(chat_id, thread_id)
            if keyboard is not None:
                message["reply_markup"] = keyboard
            self._remember(chat_id, message, by_bot=True, record=record)
            self._changed.notify_all()
        return _ok(message)

    def _chat_id_param(self, params: dict) -> int:
        value = params.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            with self._lock:
                chat_id = self._chat_by_username(value[1:])
            if chat_id is not None:
                return chat_id
        return _required_chat_id(params)

    def _check_chat(self, chat_id: int) -> None:
        self._check_known(chat_id)
        if chat_id in self._blocked:
            raise ApiError(403, BLOCKED)
        group = self._groups.get(chat_id)
        if group is not None:
            self._check_member(group)
            if group["type"] == "channel" and not group["bot"]["can_post_messages"]:
                raise ApiError(400, NEED_ADMIN)

    def _check_known(self, chat_id: int) -> None:
        if chat_id in self._not_found:
            raise ApiError(400, CHAT_NOT_FOUND)
        if chat_id in self._migrated:
            raise ApiError(400, MIGRATED, {"migrate_to_chat_id": self._migrated[chat_id]})

    def _check_member(self, group: dict) -> None:
        # Telegram names the kind of chat: "group", "supergroup" or "channel".
        status = group["bot"]["status"]
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {group['type']} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {group['type']} chat")

    def _check_thread(self, chat_id: int, thread_id: int | None) -> bool:
        """True when the send goes into a forum topic; raises for a closed or missing one."""
        group = self._groups.get(chat_id)
        if not thread_id or group is None or not group["is_forum"]:
            return False
        topic = group["topics"].get(thread_id)
        if topic is None:
            raise ApiError(400, THREAD_NOT_FOUND)
        if topic["closed"]:
            raise ApiError(400, TOPIC_CLOSED)
        return True

    def _check_rate(self, chat_id: int) -> None:
        if self._per_chat_limit is None and self._global_limit is None and self._group_limit is None:
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
        group_sends = None
        if self._group_limit is not None and chat_id < 0:
            group_sends = self._group_sends.setdefault(chat_id, deque())
            while group_sends and group_sends[0] <= now - 60:
                group_sends.popleft()
            if len(group_sends) >= self._group_limit:
                waits.append(group_sends[0] + 60 - now)
        if waits:
            raise too_many_requests(max(1, math.ceil(max(waits))))
        self._recent_sends.append((now, chat_id))
        if group_sends is not None:
            group_sends.append(now)

    def _next_message_id(self, chat_id: int) -> int:
        # One sequence per chat, shared by the user's and the bot's messages.
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _chat(self, chat_id: int) -> dict:
        group = self._groups.get(chat_id)
        if group is not None:
            chat = {"id": chat_id, "title": group["title"], "type": group["type"]}
            if group["username"]:
                chat["username"] = group["username"]
            if group["is_forum"]:
                chat["is_forum"] = True
            return chat
        if chat_id > 0:
            return {"id": chat_id, **self._users.get(chat_id, {}), "type": "private"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "title": f"Chat {chat_id}", "type": kind}

    def _get_chat_member(self, params: dict) -> dict:
        chat_id = self._chat_id_param(params)
        user_id = _parse_chat_id(params.get("user_id"))
        if user_id is None or user_id <= 0:
            raise ApiError(400, INVALID_USER_ID)
        with self._lock:
            self._check_known(chat_id)
            group = self._groups.get(chat_id)
            if group is None:
                if chat_id not in self._users:
                    raise ApiError(400, CHAT_NOT_FOUND)
                if user_id not in (chat_id, BOT_ID):
                    raise ApiError(400, USER_NOT_FOUND)
                user = self._bot_user() if user_id == BOT_ID else self._person(user_id)
                return _ok({"status": "member", "user": user})
            if user_id == BOT_ID:
                return _ok(self._bot_member(group, group["bot"]))
            status = group["members"].get(user_id, "left")
            return _ok(_chat_member(group["type"], self._person(user_id), status))

    def _delete_message(self, params: dict) -> dict:
        chat_id = self._chat_id_param(params)
        message_id = _parse_chat_id(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, NO_MESSAGE_ID)
        with self._lock:
            self._check_known(chat_id)
            group = self._groups.get(chat_id)
            if group is not None:
                self._check_member(group)
            entry = self._messages.get((chat_id, message_id))
            if entry is None or entry["deleted"]:
                raise ApiError(400, DELETE_NOT_FOUND)
            if not self._may_delete(group, chat_id, entry):
                raise ApiError(400, CANT_DELETE)
            entry["deleted"] = True
            if entry["record"] is not None:
                entry["record"]["deleted"] = True
            self._deleted.append({"chat_id": chat_id, "message_id": message_id})
            self._changed.notify_all()
        return _ok(True)

    def _may_delete(self, group: dict | None, chat_id: int, entry: dict) -> bool:
        if entry["undeletable"]:
            return False
        recent = time.time() - entry["date"] < DELETE_WINDOW
        bot = group["bot"] if group is not None else None
        any_message = bot is not None and bot["status"] == "administrator" and bot["can_delete_messages"]
        if group is not None and group["type"] == "channel":
            return any_message
        if any_message:
            # A supergroup's administrator may delete messages of any age; a basic group's, recent ones.
            return recent or group["type"] == "supergroup"
        # Its own messages anywhere, and the other side's in a private chat.
        return recent and (entry["by_bot"] or chat_id > 0)

    def _edit_message_text(self, params: dict) -> dict:
        """editMessageText: new text, entities and inline keyboard for one of the bot's text messages.

        As in Telegram, an edit without reply_markup removes the message's keyboard.
        """
        chat_id, message_id = self._message_params(params)
        text = _text_param(params.get("text"))
        parse_mode = _parse_mode(params.get("parse_mode"))
        shown = _shown_text(text, parse_mode)
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        entities, kept, problems = _entities(text, parse_mode, params, "entities")
        _json_param(params, "link_preview_options")
        markup, keyboard = _edit_markup(params)
        with self._lock:
            entry = self._editable(chat_id, message_id)
            if "text" not in entry["message"]:
                raise ApiError(400, NO_TEXT_TO_EDIT)
            # Telegram measures the new text only once it has found the message.
            if len(shown) > MAX_TEXT_LENGTH:
                raise ApiError(400, MESSAGE_TOO_LONG)
            content: dict[str, Any] = {"text": shown}
            if kept:
                content["entities"] = kept
            if keyboard is not None:
                content["reply_markup"] = keyboard
            fields: dict[str, Any] = {"text": text}
            if parse_mode:
                fields["parse_mode"] = parse_mode
            if entities is not None:
                fields["entities"] = entities
                fields["entity_problems"] = problems
            if markup is not None:
                fields["reply_markup"] = markup
            return self._edit(entry, content, fields, text=True)

    def _edit_message_reply_markup(self, params: dict) -> dict:
        """editMessageReplyMarkup: a new inline keyboard, or none when reply_markup is absent or empty."""
        chat_id, message_id = self._message_params(params)
        markup, keyboard = _edit_markup(params)
        with self._lock:
            entry = self._editable(chat_id, message_id)
            content = {"reply_markup": keyboard} if keyboard is not None else {}
            fields = {"reply_markup": markup} if markup is not None else {}
            return self._edit(entry, content, fields, text=False)

    def _message_params(self, params: dict) -> tuple[int, int]:
        chat_id = self._chat_id_param(params)
        message_id = _parse_chat_id(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, NO_MESSAGE_ID)
        return chat_id, message_id

    def _editable(self, chat_id: int, message_id: int) -> dict:
        """The bot's own message, which it may edit at any age; raises what Telegram answers otherwise."""
        self._check_known(chat_id)
        if chat_id in self._blocked:
            raise ApiError(403, BLOCKED)
        group = self._groups.get(chat_id)
        if group is not None:
            self._check_member(group)
        entry = self._messages.get((chat_id, message_id))
        if entry is None or entry["deleted"]:
            raise ApiError(400, EDIT_NOT_FOUND)
        if not entry["by_bot"]:
            raise ApiError(400, CANT_EDIT)
        # Only messages without a keyboard or with an inline one can be edited.
        sent_markup = entry["record"].get("reply_markup") if entry["record"] is not None else None
        if isinstance(sent_markup, dict) and "inline_keyboard" not in sent_markup:
            raise ApiError(400, CANT_EDIT)
        return entry

    def _edit(self, entry: dict, content: dict, fields: dict, *, text: bool) -> dict:
        """Replace the edited part of a message and of its sent record; answers the edited Message.

        A text edit replaces text, entities and keyboard, any other the keyboard alone. content
        is what the Message now shows of those, fields what the record now holds of them, as sent.
        """
        keys = ("text", "entities", "reply_markup") if text else ("reply_markup",)
        message = entry["message"]
        if {key: message[key] for key in keys if key in message} == content:
            raise ApiError(400, NOT_MODIFIED)
        now = int(time.time())
        # A new dict, never a change in place: answers and updates already made keep the old one.
        edited: dict[str, Any] = {}
        for key, value in message.items():
            if key in keys or key == "edit_date":
                continue
            edited[key] = value
            if key == "date":
                edited["edit_date"] = now
        edited.update(content)
        entry["message"] = edited
        record = entry["record"]
        record_keys = ("reply_markup",)
        if text:
            record_keys = ("text", "parse_mode", "entities", "entity_problems", "reply_markup")
        previous = {key: record[key] for key in EDIT_HISTORY_FIELDS if key in record}
        record.setdefault("edits", []).append({**previous, "date": now})
        record["edited"] = True
        for key in record_keys:
            record.pop(key, None)
        record.update(fields)
        self._changed.notify_all()
        return _ok(copy.deepcopy(edited))

    def _answer_callback_query(self, params: dict) -> dict:
        query_id = params.get("callback_query_id")
        text = params.get("text")
        with self._lock:
            query = self._callbacks.get(query_id) if isinstance(query_id, str) else None
            # Ids arrive as strings in forms and as numbers in JSON from some clients.
            if query is None and _is_int(query_id):
                query = self._callbacks.get(str(query_id))
            if query is None or query["answered"]:
                raise ApiError(400, QUERY_INVALID)
            if text is not None and len(_text_param(text)) > MAX_CALLBACK_ANSWER:
                raise ApiError(400, MESSAGE_TOO_LONG)
            query["answered"] = True
            answer: dict[str, Any] = {
                "callback_query_id": query["id"],
                "chat_id": query["chat_id"],
                "message_id": query["message_id"],
                "user_id": query["user_id"],
                "data": query["data"],
                "date": int(time.time()),
                "show_alert": _bool_param(params.get("show_alert")),
            }
            # Only when given, as in the sent records.
            if text is not None:
                answer["text"] = _text_param(text)
            if params.get("url"):
                answer["url"] = params["url"]
            if params.get("cache_time") not in (None, ""):
                answer["cache_time"] = _int_param(params, "cache_time", 0)
            self._answers.append(answer)
            self._changed.notify_all()
        return _ok(True)

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
            case "POST", ["groups"]:
                fields = _object(body, {"title", "supergroup", "forum", "members"})
                chat_id = self.create_group(
                    fields.get("title"),
                    supergroup=fields.get("supergroup", False),
                    forum=fields.get("forum", False),
                    members=_members_arg(fields.get("members")),
                )
                return {"chat_id": chat_id}
            case "POST", ["groups", chat_id, "add_bot"]:
                fields = _object(body, {"by", "start", "administrator"})
                update_ids = self.add_bot_to_group(
                    _int_arg(chat_id, "chat id"),
                    by=fields.get("by"),
                    start=fields.get("start"),
                    administrator=fields.get("administrator", False),
                )
                return {"update_ids": update_ids}
            case "POST", ["groups", chat_id, "messages"]:
                fields = _object(body, {"from", "text", "thread_id", "first_name", "username", "reply_to"})
                update_id, message_id = self._group_user_message(
                    _int_arg(chat_id, "chat id"),
                    fields.get("from"),
                    fields.get("text"),
                    thread_id=fields.get("thread_id"),
                    first_name=fields.get("first_name", "Alice"),
                    username=fields.get("username"),
                    reply_to=fields.get("reply_to"),
                )
                return {"update_id": update_id, "message_id": message_id}
            case "POST", ["groups", chat_id, "topics"]:
                fields = _object(body, {"name", "by"})
                thread_id = self.create_topic(_int_arg(chat_id, "chat id"), fields.get("name"), by=fields.get("by"))
                return {"thread_id": thread_id}
            case "POST", ["groups", chat_id, "topics", thread_id, ("close" | "reopen") as action]:
                by = _object(body, {"by"}).get("by")
                change = self.close_topic if action == "close" else self.reopen_topic
                return {"update_id": change(_int_arg(chat_id, "chat id"), _int_arg(thread_id, "thread id"), by=by)}
            case "POST", ["groups", chat_id, "topics", thread_id, "delete"]:
                _object(body, set())
                self.delete_topic(_int_arg(chat_id, "chat id"), _int_arg(thread_id, "thread id"))
                return done
            case "POST", ["groups", chat_id, "upgrade"]:
                by = _object(body, {"by"}).get("by")
                return {"chat_id": self.upgrade_group(_int_arg(chat_id, "chat id"), by=by)}
            case "POST", [("groups" | "channels"), chat_id, "remove_bot"]:
                fields = _object(body, {"by", "kicked"})
                update_id = self.remove_bot(
                    _int_arg(chat_id, "chat id"),
                    by=fields.get("by"),
                    kicked=fields.get("kicked", True),
                )
                return {"update_id": update_id}
            case "POST", [("groups" | "channels"), chat_id, "bot_rights"]:
                fields = _object(body, {"status", "can_post_messages", "can_delete_messages", "by"})
                return {"update_id": self.set_bot_rights(_int_arg(chat_id, "chat id"), **fields)}
            case "POST", ["channels"]:
                fields = _object(body, {"title", "username"})
                return {"chat_id": self.create_channel(fields.get("title"), username=fields.get("username"))}
            case "POST", ["channels", chat_id, "posts"]:
                text = _object(body, {"text"}).get("text")
                update_id, message_id = self.channel_post(_int_arg(chat_id, "chat id"), text)
                return {"update_id": update_id, "message_id": message_id}
            case "GET", ["deleted"]:
                return {"messages": self.deleted(_query_chat_id(query))}
            case "POST", ["chats", chat_id, "messages", message_id, "age"]:
                seconds = _object(body, {"seconds"}).get("seconds")
                self.age_message(_int_arg(chat_id, "chat id"), _int_arg(message_id, "message id"), seconds)
                return done
            case "POST", ["chats", chat_id, "messages", message_id, "press"]:
                fields = _object(body, {"from", "data", "text"})
                update_id, query_id = self._press(
                    _int_arg(chat_id, "chat id"),
                    _int_arg(message_id, "message id"),
                    user_id=fields.get("from"),
                    data=fields.get("data"),
                    text=fields.get("text"),
                )
                return {"update_id": update_id, "callback_query_id": query_id}
            case "POST", ["chats", chat_id, "messages", message_id, "reply"]:
                fields = _object(body, {"from", "text", "first_name"})
                update_id, reply_id = self._user_reply(
                    _int_arg(chat_id, "chat id"),
                    _int_arg(message_id, "message id"),
                    fields.get("text"),
                    user_id=fields.get("from"),
                    first_name=fields.get("first_name", "Alice"),
                )
                return {"update_id": update_id, "message_id": reply_id}
            case "GET", ["callback_queries"]:
                return {"queries": self.callback_queries()}
            case "GET", ["callback_answers"]:
                return {"answers": self.answered_callbacks()}
            case "GET", ["wait_callback_answers"]:
                count = _query_number(query, "count", 1)
                timeout = min(_query_number(query, "timeout", 10), MAX_WAIT_SENT)
                answers, complete = self._wait_answered(count, timeout)
                return {"answers": answers, "complete": complete}
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
                self.set_limits(**_object(body, {"per_chat_per_second", "global_per_second", "per_group_per_minute"}))
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
    elif body and media_type == "multipart/form-data":
        params.update(_multipart(content_type, body))
    return params


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart/form-data request."""

    filename: str
    content_type: str
    data: bytes


_DISPOSITION_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields as strings and files as Upload, as the Bot API reads a multipart/form-data body."""
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ApiError(400, "Bad Request: can't find boundary in multipart/form-data request")
    fields: dict[str, Any] = {}
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, blank, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not blank:
            continue
        headers = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _disposition(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        data = data.removesuffix(b"\r\n")
        # A part with a file name is a file, whatever its field; any other is a string.
        filename = disposition.get("filename")
        if filename is None:
            fields[name] = data.decode("utf-8", errors="replace")
        else:
            part_type = headers.get("content-type") or "application/octet-stream"
            fields[name] = Upload(filename=filename, content_type=part_type, data=data)
    return fields


def _disposition(value: str) -> dict[str, str]:
    params = {}
    for name, raw in _DISPOSITION_PARAM.findall(value):
        raw = raw.strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    extended = params.pop("filename*", None)
    if extended and "'" in extended:
        charset, _, encoded = extended.partition("'")
        params["filename"] = unquote(encoded.partition("'")[2], encoding=charset or "utf-8", errors="replace")
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


def _shown_text(text: str, parse_mode: str | None) -> str:
    """The text (or caption) Telegram shows once the markup is parsed."""
    if parse_mode != "HTML":
        return text
    try:
        return parse_html(text)
    except EntityError as error:
        raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None


def _entities(text: str, parse_mode: str | None, params: dict, name: str) -> tuple[list | None, list[dict], list[str]]:
    """The entity array as sent (None when absent), the entities Telegram keeps, and the problems.

    Telegram ignores the array when parse_mode is set, so it goes unchecked then; the
    simulator only notes it as a problem.
    """
    value = params.get(name)
    if value is None or value == "":
        return None, [], []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse entities JSON object") from None
    if not isinstance(value, list):
        raise ApiError(400, "Bad Request: expected an Array of MessageEntity")
    if parse_mode:
        return value, [], [f"{name} are ignored because parse_mode is set"]
    try:
        kept, problems = check_entities(text, value)
    except InvalidEntities as error:
        raise ApiError(400, f"Bad Request: {error}") from None
    return value, kept, problems


def _reply_markup(params: dict) -> tuple[Any, dict | None]:
    """The reply_markup as sent (None when absent) and the inline keyboard the message shows.

    Only URL and callback buttons are simulated. A button with both a url and callback_data
    is refused, where Telegram would quietly keep only the url.
    """
    value = params.get("reply_markup")
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Bad Request: object expected as reply markup")
    rows = value.get("inline_keyboard")
    if rows is None:
        return value, None  # a reply keyboard or force_reply: not part of the Message
    if not isinstance(rows, list):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be of type Array')
    if not all(isinstance(row, list) for row in rows):
        raise ApiError(
            400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    keyboard = [[_inline_button(button) for button in row] for row in rows]
    # Links are checked after every button parsed, then what Telegram's servers refuse.
    for button in (button for row in keyboard for button in row):
        reason = url_problem(button["url"]) if "url" in button else None
        if reason:
            raise ApiError(400, f"Bad Request: inline keyboard button URL '{button['url']}' is invalid: {reason}")
    for button in (button for row in keyboard for button in row):
        if not button["text"].strip():
            raise ApiError(400, BUTTON_TEXT_INVALID)
        if len(button.get("callback_data", "").encode("utf-8")) > MAX_CALLBACK_DATA:
            raise ApiError(400, BUTTON_DATA_INVALID)
    return value, ({"inline_keyboard": keyboard} if keyboard else None)


def _edit_markup(params: dict) -> tuple[Any, dict | None]:
    """The reply_markup of an edit: an inline keyboard or nothing."""
    markup, keyboard = _reply_markup(params)
    if markup is not None and "inline_keyboard" not in markup:
        raise ApiError(400, INLINE_KEYBOARD_EXPECTED)
    return markup, keyboard


def _find_button(message: dict, data: str | None, text: str | None) -> dict:
    """The callback button of a message named by its data, its text or both; BadInput when there is none."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    for button in (button for row in rows for button in row):
        if data is not None and button.get("callback_data") != data:
            continue
        if text is not None and button["text"] != text:
            continue
        if "callback_data" not in button:
            raise BadInput(f"the button {button['text']!r} opens a link; pressing it sends the bot nothing")
        return button
    named = " and ".join(f"{name} {value!r}" for name, value in (("data", data), ("text", text)) if value is not None)
    raise BadInput(f"the message {message['message_id']} has no button with {named}")


def _chat_instance(chat_id: int) -> str:
    # Telegram's chat_instance is a signed 64-bit number, the same for every press in one chat.
    digest = hashlib.sha256(f"{BOT_ID}:{chat_id}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big", signed=True))


def _inline_button(button: Any) -> dict:
    def refuse(reason: str) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse inline keyboard button: {reason}")

    if not isinstance(button, dict):
        raise refuse("InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise refuse('Can\'t find field "text"')
    for name in ("text", "url", "callback_data"):
        if button.get(name) is not None and not isinstance(button[name], str):
            raise refuse(f'Field "{name}" must be of type String')
    # An empty url or callback_data counts as absent, as in Telegram.
    url, data = button.get("url"), button.get("callback_data")
    if url and data:
        raise refuse("a button has either url or callback_data, not both")
    if url:
        return {"text": button["text"], "url": url}
    if data:
        return {"text": button["text"], "callback_data": data}
    raise refuse("Text buttons are unallowed in the inline keyboard")


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


# -- files ------------------------------------------------------------------------

# Built-in types only, so a document's type does not depend on the machine's mime.types.
_MIME_TYPES = mimetypes.MimeTypes()


def _file_ids(prefix: str) -> dict:
    return {"file_id": prefix + secrets.token_urlsafe(36), "file_unique_id": "AQAD" + secrets.token_urlsafe(9)}


def _document(upload: Upload) -> dict:
    # Telegram types a document by its name's extension; it never sees the part's Content-Type.
    mime_type = _MIME_TYPES.guess_type(upload.filename)[0] or "application/octet-stream"
    return {
        "file_name": upload.filename,
        "mime_type": mime_type,
        **_file_ids("BQACAgIAAxkBAAI"),
        "file_size": len(upload.data),
    }


def _photo_sizes(data: bytes) -> list[dict]:
    """The PhotoSize list of an uploaded photo, or the error Telegram answers for it."""
    if len(data) > MAX_PHOTO_SIZE:
        raise ApiError(
            400,
            f"Bad Request: file of size {len(data)} bytes is too big for a photo; "
            f"the maximum size is {MAX_PHOTO_SIZE} bytes",
        )
    size = _image_size(data)
    if size is None:
        raise ApiError(400, IMAGE_PROCESS_FAILED)
    width, height = size
    if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * min(width, height):
        raise ApiError(400, PHOTO_INVALID_DIMENSIONS)
    sizes = []
    longest = max(width, height)
    for box in PHOTO_BOXES:
        scale = min(1, box / longest)
        sizes.append(
            {
                **_file_ids("AgACAgIAAxkBAAI"),
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            }
        )
        if longest <= box:
            break
    # Telegram recompresses every size; the largest is given the upload's size here.
    sizes[-1]["file_size"] = len(data)
    return sizes


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG or WebP image; None for anything else or a header cut short."""
    size = None
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        size = struct.unpack(">II", data[16:24])
    elif data.startswith(b"\xff\xd8\xff"):
        size = _jpeg_size(data)
    elif data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        size = _webp_size(data)
    if size is None or min(size) <= 0:
        return None
    return size


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    # Walk the segments to the first start-of-frame marker, which holds the height and width.
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1  # fill byte
            continue
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:
            i += 2  # markers without a length
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xDA:
            return None  # image data before any frame header
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


# -- chats and their members ------------------------------------------------------


def _new_chat(
    chat_id: int,
    title: str,
    kind: str,
    *,
    is_forum: bool = False,
    username: str | None = None,
    members: dict[int, str] | None = None,
) -> dict:
    return {
        "id": chat_id,
        "title": title,
        "type": kind,
        "is_forum": is_forum,
        "username": username,
        "members": members or {},
        "bot": _bot_state("left"),
        "topics": {},
        "migrated_to": None,
    }


def _bot_state(status: str, *, can_post_messages: bool = False, can_delete_messages: bool = False) -> dict:
    # Rights mean something for administrators only; kept False otherwise so states compare equal.
    admin = status == "administrator"
    return {
        "status": status,
        "can_post_messages": admin and can_post_messages,
        "can_delete_messages": admin and can_delete_messages,
    }


def _chat_member(
    chat_type: str,
    user: dict,
    status: str,
    *,
    can_post_messages: bool = True,
    can_delete_messages: bool = True,
) -> dict:
    """A ChatMember object of the given status."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status != "administrator":
        return {"status": status, "user": user}
    # The bot holds only the rights it was given; other administrators hold them all.
    full = not user["is_bot"]
    member = {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": can_delete_messages,
        "can_manage_video_chats": full,
        "can_restrict_members": full,
        "can_promote_members": full,
        "can_change_info": full,
        "can_invite_users": full,
        "can_post_stories": full,
        "can_edit_stories": full,
        "can_delete_stories": full,
    }
    if chat_type == "channel":
        member["can_post_messages"] = can_post_messages
        member["can_edit_messages"] = can_post_messages
    else:
        member["can_pin_messages"] = full
    if chat_type == "supergroup":
        member["can_manage_topics"] = full
    return member


def _add_command_entity(message: dict) -> None:
    command = _COMMAND.match(message["text"])
    if command:
        length = _utf16_length(command.group())
        message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]


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


def _members_arg(members: Any) -> dict | None:
    # JSON object keys are strings.
    if members is None:
        return None
    if not isinstance(members, dict):
        raise BadInput("members must be an object of user id to status")
    return {_int_arg(user_id, "a member's user id"): status for user_id, status in members.items()}


def _checked_members(members: Any) -> dict[int, str]:
    if members is None:
        return {}
    if not isinstance(members, dict):
        raise BadInput("members must map user ids to statuses")
    for user_id, status in members.items():
        _user_arg(user_id, "a member's user id")
        if not isinstance(status, str) or status not in MEMBER_STATUSES:
            raise BadInput(f"a member's status must be one of: {', '.join(sorted(MEMBER_STATUSES))}")
    if list(members.values()).count("creator") > 1:
        raise BadInput("a group has one creator")
    return dict(members)


def _check_title(title: Any) -> None:
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_LENGTH:
        raise BadInput(f"title must be 1-{MAX_TITLE_LENGTH} characters")


def _bool_arg(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadInput(f"{name} must be true or false")
    return value


def _user_arg(value: Any, name: str) -> int:
    if not _is_int(value) or value <= 0:
        raise BadInput(f"{name} must be a positive integer")
    return value


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
