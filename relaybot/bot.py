"""The bot's side of linking: one handler for updates from polling and webhook alike."""

import logging
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from relaybot import selectors, services
from relaybot.client import TelegramError, get_bot
from relaybot.models import Chat, ProcessedUpdate
from relaybot.texts import text

logger = logging.getLogger(__name__)

LINK_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{40,64}$")
# Update and chat ids are stored in 64-bit columns.
ID_LIMIT = 2**63


def handle_update(update: Any) -> None:
    """Act on one update: a private text message, or the user blocking or restarting the bot; the rest is ignored.

    The update is recorded as handled in the same transaction as what it
    changes: one that fails half way is handled in full when Telegram
    redelivers it, and one that was handled is not handled again.
    """
    if not isinstance(update, dict) or not _is_id(update.get("update_id"), low=0):
        return
    with transaction.atomic():
        if not _first_time(update["update_id"]):
            return
        answer = _answer(update)
    if answer is not None:
        chat_id, reply = answer
        try:
            get_bot().send_message(chat_id, reply)
        except TelegramError as error:
            logger.warning("could not answer chat %s: %s", chat_id, error)


def _answer(update: dict) -> tuple[int, str] | None:
    """Act on a private text message; returns the chat and the bot's reply."""
    if "my_chat_member" in update:
        _membership_changed(update["my_chat_member"])
        return None
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat, sender, body = message.get("chat"), message.get("from"), message.get("text")
    if not (isinstance(chat, dict) and isinstance(sender, dict) and isinstance(body, str)):
        return None
    if chat.get("type") != "private" or not _is_id(chat.get("id")) or sender.get("is_bot"):
        return None
    who = services.TelegramUser(
        chat_id=chat["id"],
        username=_string(sender.get("username"), Chat._meta.get_field("username").max_length),
        first_name=_string(sender.get("first_name"), Chat._meta.get_field("first_name").max_length),
        language_code=_string(sender.get("language_code"), Chat._meta.get_field("language_code").max_length),
    )
    reply = _respond(who, _string(body).strip())
    return None if reply is None else (who.chat_id, reply)


def _membership_changed(change: Any) -> None:
    """In a private chat, `kicked` is the user blocking the bot and `member` the user restarting it."""
    if not isinstance(change, dict):
        return
    chat, member = change.get("chat"), change.get("new_chat_member")
    if not (isinstance(chat, dict) and isinstance(member, dict)):
        return
    if chat.get("type") != "private" or not _is_id(chat.get("id")):
        return
    status = member.get("status")
    if status == "kicked" and services.mark_blocked(chat_id=chat["id"]):
        logger.info("chat %s blocked the bot", chat["id"], extra={"chat": chat["id"]})
    elif status == "member" and services.mark_unblocked(chat_id=chat["id"]):
        logger.info("chat %s restarted the bot", chat["id"], extra={"chat": chat["id"]})


def _respond(who: services.TelegramUser, body: str) -> str | None:
    command, _, argument = body.partition(" ")
    command, _, addressee = command.partition("@")
    if command.startswith("/") and addressee and not _addressed_to_us(addressee):
        # `/start@OtherBot <code>` (pasted, or in a chat with several bots) is not ours.
        return None
    command = command.lower()
    argument = argument.strip()
    if command == "/start" and argument:
        return _link(who, argument)
    if command == "/help":
        return text(who.language_code, "help")
    if command == "/stop":
        user = services.unlink_chat_id(chat_id=who.chat_id)
        if user is None:
            return text(who.language_code, "not_linked")
        return text(who.language_code, "stopped", username=user.username)
    if LINK_CODE_PATTERN.match(body):
        return _link(who, body)
    _, code = services.issue_verification_code(who=who)
    minutes = int(settings.VERIFICATION_CODE_TTL.total_seconds() // 60)
    return text(who.language_code, "verification", code=code, minutes=minutes, cabinet_url=selectors.verify_page_url())


def _link(who: services.TelegramUser, code: str) -> str:
    try:
        chat = services.link_by_link_code(code=code, who=who)
    except services.CodeInvalid:
        return text(who.language_code, "code_invalid")
    return text(who.language_code, "linked", name=chat.user.name, username=chat.user.username)


def _addressed_to_us(addressee: str) -> bool:
    username = selectors.bot_username()
    if not username:
        # Until getMe answers we cannot tell; failing lets the update be tried again.
        raise TelegramError("getMe did not answer: cannot tell which bot a command is addressed to")
    return addressee.lower() == username.lower()


def _first_time(update_id: int) -> bool:
    try:
        with transaction.atomic():
            ProcessedUpdate.objects.create(update_id=update_id)
    except IntegrityError:
        return False
    return True


def _is_id(value: Any, *, low: int = -ID_LIMIT) -> bool:
    """An integer as Telegram sends ids, and small enough for the columns that store it."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < ID_LIMIT


def _string(value: Any, limit: int | None = None) -> str:
    """Text as the database stores it: no NUL, no lone surrogate (JSON allows both), within `limit`."""
    if not isinstance(value, str):
        return ""
    return value.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "")[:limit]
