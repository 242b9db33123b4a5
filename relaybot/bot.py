"""The bot's side of linking: one handler for updates from polling and webhook alike."""

import logging
import re
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from relay import answers, destinations
from relay.destinations import ChatInfo
from relay.models import Destination
from relaybot import selectors, services
from relaybot.client import TelegramError, get_bot
from relaybot.models import LinkCode, ProcessedUpdate
from relaybot.texts import text

logger = logging.getLogger(__name__)

LINK_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{40,64}$")
# Update and chat ids are stored in 64-bit columns.
ID_LIMIT = 2**63
USERNAME_LENGTH = Destination._meta.get_field("username").max_length
# A private chat's name also waits in a verification code's row.
NAME_LENGTH = LinkCode._meta.get_field("chat_first_name").max_length
TITLE_LENGTH = Destination._meta.get_field("title").max_length
LANGUAGE_LENGTH = Destination._meta.get_field("language_code").max_length


def handle_update(update: Any) -> None:
    """Act on one update: a text message in a private chat or a group, a channel post, a membership change.

    The update is recorded as handled in the same transaction as what it
    changes: one that fails half way is handled in full when Telegram
    redelivers it, and one that was handled is not handled again. Asking
    Telegram whether a group's /stop comes from an administrator happens
    before, so no transaction waits on the network.
    """
    if not isinstance(update, dict) or not _is_id(update.get("update_id"), low=0):
        return
    may_unlink = _may_unlink(update)
    with transaction.atomic():
        if not _first_time(update["update_id"]):
            return
        answer = _answer(update, may_unlink=may_unlink)
    if answer is not None:
        chat_id, reply, thread_id = answer
        try:
            get_bot().send_message(chat_id, reply, thread_id=thread_id)
        except TelegramError as error:
            logger.warning("could not answer chat %s: %s", chat_id, error)
    _delete_code_post(update)


Answer = tuple[int, str, int | None]


def _answer(update: dict, *, may_unlink: bool) -> Answer | None:
    """Act on the update; returns the chat, the bot's reply and the topic to reply in."""
    if "my_chat_member" in update:
        _membership_changed(update["my_chat_member"])
        return None
    if "channel_post" in update:
        _channel_post(update["channel_post"])
        return None
    if "callback_query" in update:
        _button_pressed(update["callback_query"])
        return None
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat")
    if not isinstance(chat, dict) or not _is_id(chat.get("id")):
        return None
    replied = _reply_answered(message)
    if replied is not None:
        return replied
    if chat.get("type") in ("group", "supergroup"):
        _service_message(message)
        return _group_message(message, may_unlink=may_unlink)
    sender, body = message.get("from"), message.get("text")
    if not (isinstance(sender, dict) and isinstance(body, str)):
        return None
    if chat.get("type") != "private" or sender.get("is_bot"):
        return None
    who = services.TelegramUser(
        chat_id=chat["id"],
        username=_string(sender.get("username"), USERNAME_LENGTH),
        first_name=_string(sender.get("first_name"), NAME_LENGTH),
        language_code=_string(sender.get("language_code"), LANGUAGE_LENGTH),
    )
    reply = _respond(who, _string(body).strip())
    return None if reply is None else (who.chat_id, reply, None)


def _who(sender: Any) -> str:
    """How an answer names who gave it: @username, else the first name."""
    if not isinstance(sender, dict):
        return ""
    username = _string(sender.get("username"), USERNAME_LENGTH)
    return f"@{username}" if username else _string(sender.get("first_name"), NAME_LENGTH)


def _button_pressed(query: Any) -> None:
    """An answer button was pressed: record the answer, stop the spinner, and show the choice in place of the buttons.

    The Telegram calls go once the transaction has committed.
    """
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        return
    message, data, sender = query.get("message"), query.get("data"), query.get("from")
    language = _string(sender.get("language_code"), LANGUAGE_LENGTH) if isinstance(sender, dict) else ""
    chat = message.get("chat") if isinstance(message, dict) else None
    if not (isinstance(chat, dict) and _is_id(chat.get("id")) and _is_id(message.get("message_id"))):
        transaction.on_commit(partial(_answer_press, query["id"], text(language, "answer_gone")), robust=True)
        return
    outcome = answers.answer_by_button(
        chat_id=chat["id"], telegram_message_id=message["message_id"], data=_string(data), by=_who(sender)
    )
    notice = {
        answers.RECORDED: "answer_recorded",
        answers.ALREADY_ANSWERED: "answer_already",
        answers.EXPIRED: "answer_expired",
    }.get(outcome.result, "answer_gone")
    transaction.on_commit(partial(_answer_press, query["id"], text(language, notice, value=outcome.value)), robust=True)
    if outcome.result == answers.RECORDED:
        label = _chosen_label(outcome.message.buttons, outcome.value)
        transaction.on_commit(partial(_show_choice, chat["id"], message["message_id"], f"✓ {label}"), robust=True)


def _chosen_label(rows: list, value: str) -> str:
    for row in rows:
        for button in row:
            if button.get("answer") == value:
                return button["text"]
    return value


def _answer_press(callback_query_id: str, notice: str) -> None:
    try:
        get_bot().answer_callback_query(callback_query_id, notice)
    except TelegramError as error:
        logger.info("could not answer a button press: %s", error)


def _show_choice(chat_id: int, message_id: int, label: str) -> None:
    # One button that does nothing more: pressed again, the bot says the question is answered.
    markup = {"inline_keyboard": [[{"text": label, "callback_data": "ans:done"}]]}
    try:
        get_bot().edit_message_reply_markup(chat_id, message_id, markup)
    except TelegramError as error:
        logger.info("could not replace the buttons of message %s in chat %s: %s", message_id, chat_id, error)


def _reply_answered(message: dict) -> Answer | None:
    """A Telegram reply to a relayed question: its answer. None when the reply is not to a question."""
    replied_to, body = message.get("reply_to_message"), message.get("text")
    if not (isinstance(replied_to, dict) and _is_id(replied_to.get("message_id")) and isinstance(body, str)):
        return None
    sender = message.get("from")
    if not isinstance(sender, dict) or sender.get("is_bot"):
        return None
    chat_id = message["chat"]["id"]
    outcome = answers.answer_by_reply(
        chat_id=chat_id, telegram_message_id=replied_to["message_id"], text=_string(body), by=_who(sender)
    )
    if outcome.result == answers.NOT_A_QUESTION:
        return None
    language = _string(sender.get("language_code"), LANGUAGE_LENGTH)
    notice = {
        answers.RECORDED: "answer_recorded",
        answers.ALREADY_ANSWERED: "answer_already",
        answers.EXPIRED: "answer_expired",
    }[outcome.result]
    thread_id = message.get("message_thread_id") if message.get("is_topic_message") is True else None
    return chat_id, text(language, notice, value=outcome.value), thread_id if _is_id(thread_id) else None


def _membership_changed(change: Any) -> None:
    """The bot's own membership changed: a user blocked or restarted it, a group or channel removed or added it."""
    if not isinstance(change, dict):
        return
    chat, member = change.get("chat"), change.get("new_chat_member")
    if not (isinstance(chat, dict) and isinstance(member, dict)) or not _is_id(chat.get("id")):
        return
    chat_id, kind, status = chat["id"], chat.get("type"), member.get("status")
    if kind == "private":
        if status == "kicked" and services.mark_blocked(chat_id=chat_id):
            logger.info("chat %s blocked the bot", chat_id, extra={"chat": chat_id})
        elif status == "member" and services.mark_unblocked(chat_id=chat_id):
            logger.info("chat %s restarted the bot", chat_id, extra={"chat": chat_id})
        return
    if kind not in ("group", "supergroup", "channel"):
        return
    reason = _membership_reason(kind, status, member)
    if reason:
        changed = destinations.chat_unreachable(chat_id=chat_id, reason=reason)
    else:
        changed = destinations.chat_reachable(chat_id=chat_id, keep=destinations.TOPIC_REASONS)
    if changed:
        logger.info("chat %s: the bot is now %s", chat_id, status, extra={"chat": chat_id})


def _membership_reason(kind: str, status: Any, member: dict) -> str:
    """Why the bot cannot post in the chat with this membership, in Telegram's words; empty if it can."""
    if status == "kicked" or (status == "restricted" and member.get("can_send_messages") is False):
        return {
            "channel": destinations.CHANNEL_KICKED_REASON,
            "supergroup": destinations.SUPERGROUP_KICKED_REASON,
        }.get(kind, destinations.KICKED_REASON)
    if status == "left":
        return {
            "channel": destinations.CHANNEL_LEFT_REASON,
            "supergroup": destinations.SUPERGROUP_LEFT_REASON,
        }.get(kind, destinations.LEFT_REASON)
    if kind == "channel" and not (status == "administrator" and member.get("can_post_messages") is True):
        return destinations.NO_POST_RIGHT_REASON
    return ""


def _service_message(message: dict) -> None:
    """A group's service messages that change where its destinations are: an upgrade, a topic closed or reopened."""
    chat_id = message["chat"]["id"]
    if _is_id(message.get("migrate_to_chat_id")):
        destinations.migrate_chat(old_chat_id=chat_id, new_chat_id=message["migrate_to_chat_id"])
    elif _is_id(message.get("migrate_from_chat_id")):
        destinations.migrate_chat(old_chat_id=message["migrate_from_chat_id"], new_chat_id=chat_id)
    thread_id = message.get("message_thread_id")
    if not _is_id(thread_id):
        return
    if isinstance(message.get("forum_topic_closed"), dict):
        destinations.chat_unreachable(chat_id=chat_id, thread_id=thread_id, reason=destinations.TOPIC_CLOSED_REASON)
    elif isinstance(message.get("forum_topic_reopened"), dict):
        destinations.chat_reachable(chat_id=chat_id, thread_id=thread_id)


def _group_message(message: dict, *, may_unlink: bool) -> Answer | None:
    """/start <code>, /stop and /help in a group or a forum topic; anything else is not for the bot."""
    sender, body = message.get("from"), message.get("text")
    if not (isinstance(sender, dict) and isinstance(body, str)):
        return None
    if sender.get("is_bot") and not _anonymous_admin(message):
        return None
    command = _command(_string(body).strip())
    if command is None:
        return None
    name, argument = command
    chat = _group_chat(message)
    language = _string(sender.get("language_code"), LANGUAGE_LENGTH)
    if name == "/start" and argument:
        try:
            destination = services.link_by_link_code(code=argument, chat=chat)
        except services.CodeInvalid:
            return chat.chat_id, text(language, "code_invalid"), chat.thread_id
        key = "linked_topic" if chat.thread_id is not None else "linked_group"
        reply = text(language, key, username=destination.user.username, label=destination.label)
        return chat.chat_id, reply, chat.thread_id
    if name == "/stop":
        if not may_unlink:
            return chat.chat_id, text(language, "stop_not_admin"), chat.thread_id
        users = services.unlink_chat_id(chat_id=chat.chat_id, thread_id=chat.thread_id)
        if not users:
            return chat.chat_id, text(language, "not_linked"), chat.thread_id
        usernames = ", ".join(sorted({user.username for user in users}))
        return chat.chat_id, text(language, "stopped_group", usernames=usernames), chat.thread_id
    if name in ("/help", "/start"):
        return chat.chat_id, text(language, "group_help", bot=selectors.bot_username() or "bot"), chat.thread_id
    return None


def _group_chat(message: dict) -> ChatInfo:
    """The group, or the forum topic the message was sent in."""
    chat = message["chat"]
    title = _string(chat.get("title"), TITLE_LENGTH)
    thread_id = message.get("message_thread_id")
    if message.get("is_topic_message") is True and _is_id(thread_id):
        # In a topic, messages reply to the topic's creation, which names it.
        created = (message.get("reply_to_message") or {}).get("forum_topic_created")
        topic = _string(created.get("name"), TITLE_LENGTH) if isinstance(created, dict) else ""
        return ChatInfo(
            chat_id=chat["id"],
            kind=Destination.Kind.TOPIC,
            title=_string(f"{title} / {topic or thread_id}", TITLE_LENGTH),
            thread_id=thread_id,
        )
    kind = Destination.Kind.SUPERGROUP if chat.get("type") == "supergroup" else Destination.Kind.GROUP
    return ChatInfo(chat_id=chat["id"], kind=kind, title=title)


def _channel_post(post: Any) -> None:
    """A channel's administrator posted a link code (or /start <code>, or /stop) in the channel.

    No reply: whatever the bot posts, the channel's subscribers read. The
    code's post is deleted once handled (_delete_code_post).
    """
    if not isinstance(post, dict):
        return
    chat, body = post.get("chat"), post.get("text")
    if not (isinstance(chat, dict) and isinstance(body, str)) or not _is_id(chat.get("id")):
        return
    body = _string(body).strip()
    command = _command(body)
    if command is not None and command[0] == "/stop":
        # Only a channel's administrators can post in it.
        services.unlink_chat_id(chat_id=chat["id"])
        return
    code = command[1] if command is not None and command[0] == "/start" else body
    if not LINK_CODE_PATTERN.match(code):
        return
    info = ChatInfo(
        chat_id=chat["id"],
        kind=Destination.Kind.CHANNEL,
        title=_string(chat.get("title"), TITLE_LENGTH),
        username=_string(chat.get("username"), USERNAME_LENGTH),
    )
    try:
        services.link_by_link_code(code=code, chat=info)
    except services.CodeInvalid:
        logger.info("channel %s posted a code that is not valid", chat["id"], extra={"chat": chat["id"]})


def _delete_code_post(update: dict) -> None:
    """Remove a link code posted in a channel or a group, where the bot may: a code is a secret until used."""
    message = update.get("channel_post") or update.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
        return
    if message["chat"].get("type") == "private" or not isinstance(message.get("text"), str):
        return
    body = _string(message["text"]).strip()
    command = _command(body)
    code = command[1] if command is not None and command[0] == "/start" else body
    if not LINK_CODE_PATTERN.match(code) or not _is_id(message.get("message_id")):
        return
    try:
        get_bot().delete_message(message["chat"]["id"], message["message_id"])
    except TelegramError as error:
        # Without the right to delete, the code stays; it is used already.
        logger.info("could not delete the code's post in chat %s: %s", message["chat"]["id"], error)


def _may_unlink(update: dict) -> bool:
    """Whether a group's /stop comes from one of its administrators (asked of Telegram; False if it cannot say)."""
    message = update.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
        return False
    chat, sender = message["chat"], message.get("from")
    if chat.get("type") not in ("group", "supergroup") or not isinstance(sender, dict):
        return False
    command = _command(_string(message.get("text")).strip())
    if command is None or command[0] != "/stop" or not (_is_id(chat.get("id")) and _is_id(sender.get("id"))):
        return False
    if _anonymous_admin(message):
        return True
    try:
        member = get_bot().get_chat_member(chat["id"], sender["id"])
    except TelegramError as error:
        logger.warning("could not ask chat %s who may unlink it: %s", chat["id"], error)
        return False
    return isinstance(member, dict) and member.get("status") in ("creator", "administrator")


def _anonymous_admin(message: dict) -> bool:
    """Sent by an administrator writing as the group (Telegram's sender is then a stand-in bot)."""
    sender_chat = message.get("sender_chat")
    return isinstance(sender_chat, dict) and sender_chat.get("id") == message["chat"].get("id")


def _command(body: str) -> tuple[str, str] | None:
    """`/name@bot argument` as (name, argument), or None when it is no command or is another bot's."""
    if not body.startswith("/"):
        return None
    command, _, argument = body.partition(" ")
    command, _, addressee = command.partition("@")
    if addressee and not _addressed_to_us(addressee):
        return None
    return command.lower(), argument.strip()


def _respond(who: services.TelegramUser, body: str) -> str | None:
    command = _command(body)
    if body.startswith("/") and command is None:
        # `/start@OtherBot <code>` (pasted, or in a chat with several bots) is not ours.
        return None
    name, argument = command or ("", "")
    if name == "/start" and argument:
        return _link(who, argument)
    if name == "/help":
        return text(who.language_code, "help")
    if name == "/stop":
        users = services.unlink_chat_id(chat_id=who.chat_id)
        if not users:
            return text(who.language_code, "not_linked")
        return text(who.language_code, "stopped", username=users[0].username)
    if LINK_CODE_PATTERN.match(body):
        return _link(who, body)
    _, code = services.issue_verification_code(who=who)
    minutes = int(settings.VERIFICATION_CODE_TTL.total_seconds() // 60)
    return text(who.language_code, "verification", code=code, minutes=minutes, cabinet_url=selectors.verify_page_url())


def _link(who: services.TelegramUser, code: str) -> str:
    try:
        destination = services.link_by_link_code(code=code, chat=services.private_chat(who))
    except services.CodeInvalid:
        return text(who.language_code, "code_invalid")
    return text(who.language_code, "linked", name=destination.user.name, username=destination.user.username)


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
