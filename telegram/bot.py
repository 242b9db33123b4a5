"""The bot's side of linking: one handler for updates from polling and webhook alike."""

import logging
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from telegram import services
from telegram.client import TelegramError, get_bot
from telegram.models import ProcessedUpdate
from telegram.texts import text

logger = logging.getLogger(__name__)

LINK_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{40,64}$")
# Update and chat ids are stored in 64-bit columns.
ID_LIMIT = 2**63


def handle_update(update: Any) -> None:
    """Act on one update; anything that is not a private text message is ignored."""
    if not isinstance(update, dict) or not _is_id(update.get("update_id"), low=0):
        return
    if not _first_time(update["update_id"]):
        return
    message = update.get("message")
    if not isinstance(message, dict):
        return
    chat, sender, body = message.get("chat"), message.get("from"), message.get("text")
    if not (isinstance(chat, dict) and isinstance(sender, dict) and isinstance(body, str)):
        return
    if chat.get("type") != "private" or not _is_id(chat.get("id")) or sender.get("is_bot"):
        return
    who = services.TelegramUser(
        chat_id=chat["id"],
        username=_string(sender.get("username")),
        first_name=_string(sender.get("first_name")),
        language_code=_string(sender.get("language_code")),
    )
    reply = _respond(who, body.strip())
    try:
        get_bot().send_message(who.chat_id, reply)
    except TelegramError as error:
        logger.warning("could not answer chat %s: %s", who.chat_id, error)


def _respond(who: services.TelegramUser, body: str) -> str:
    command, _, argument = body.partition(" ")
    command = command.split("@", 1)[0].lower()
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
    return text(who.language_code, "verification", code=code, minutes=minutes)


def _link(who: services.TelegramUser, code: str) -> str:
    try:
        chat = services.link_by_link_code(code=code, who=who)
    except services.CodeInvalid:
        return text(who.language_code, "code_invalid")
    return text(who.language_code, "linked", name=chat.user.name, username=chat.user.username)


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


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
