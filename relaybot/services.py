import logging
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from ops import metrics
from relay.models import Message
from relaybot import codes
from relaybot.client import TelegramError, get_bot
from relaybot.models import Chat, LinkCode
from relaybot.texts import text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TelegramUser:
    """Who wrote to the bot, as the update describes them."""

    chat_id: int
    username: str = ""
    first_name: str = ""
    language_code: str = ""


class CodeInvalid(Exception):
    """The code is unknown, used, or expired."""


def create_link_code(*, user: User) -> tuple[LinkCode, str]:
    """A fresh link code for the account; earlier unused ones stop working."""
    code = codes.new_link_code()
    with transaction.atomic():
        LinkCode.objects.filter(kind=LinkCode.Kind.LINK, user=user, used_at__isnull=True).delete()
        link_code = LinkCode.objects.create(
            kind=LinkCode.Kind.LINK,
            code_hash=codes.hash_code(code),
            user=user,
            expires_at=timezone.now() + settings.LINK_CODE_TTL,
        )
    return link_code, code


def issue_verification_code(*, who: TelegramUser) -> tuple[LinkCode, str]:
    """A fresh verification code for a chat; earlier unused ones stop working."""
    code = codes.new_verification_code()
    with transaction.atomic():
        LinkCode.objects.filter(kind=LinkCode.Kind.VERIFY, chat_id=who.chat_id, used_at__isnull=True).delete()
        link_code = LinkCode.objects.create(
            kind=LinkCode.Kind.VERIFY,
            code_hash=codes.hash_code(code),
            chat_id=who.chat_id,
            chat_username=who.username,
            chat_first_name=who.first_name,
            chat_language_code=who.language_code,
            expires_at=timezone.now() + settings.VERIFICATION_CODE_TTL,
        )
    return link_code, code


def _redeem(*, kind: str, code: str) -> LinkCode:
    """Mark a valid code used, exactly once, or raise CodeInvalid."""
    now = timezone.now()
    link_code = LinkCode.objects.filter(kind=kind, code_hash=codes.hash_code(code)).first()
    if link_code is None or link_code.used_at is not None or link_code.expires_at <= now:
        raise CodeInvalid
    # Conditional update: of two concurrent redemptions only one changes the row.
    claimed = LinkCode.objects.filter(pk=link_code.pk, used_at__isnull=True).update(used_at=now)
    if claimed != 1:
        raise CodeInvalid
    return link_code


def link_by_link_code(*, code: str, who: TelegramUser) -> Chat:
    """Redeem a link code sent to the bot: the sender's chat joins the code's account."""
    with transaction.atomic():
        link_code = _redeem(kind=LinkCode.Kind.LINK, code=code)
        return link_chat(user=link_code.user, who=who)


def link_by_verification_code(*, user: User, code: str) -> Chat:
    """Redeem a verification code the bot handed out: its chat joins `user`."""
    with transaction.atomic():
        link_code = _redeem(kind=LinkCode.Kind.VERIFY, code=codes.normalize_verification_code(code))
        who = TelegramUser(
            chat_id=link_code.chat_id,
            username=link_code.chat_username,
            first_name=link_code.chat_first_name,
            language_code=link_code.chat_language_code,
        )
        return link_chat(user=user, who=who)


def link_chat(*, user: User, who: TelegramUser) -> Chat:
    """Tie the chat to the account, replacing whatever either was tied to before."""
    with transaction.atomic():
        existing = Chat.objects.select_for_update().filter(chat_id=who.chat_id).first()
        if existing is not None and existing.user_id == user.pk:
            existing.username = who.username
            existing.first_name = who.first_name
            existing.language_code = who.language_code
            existing.unreachable_reason = ""
            existing.save(update_fields=["username", "first_name", "language_code", "unreachable_reason"])
            return existing
        if existing is not None:
            _delete_chat(existing, reason="the chat was linked to another account")
        current = Chat.objects.filter(user=user).first()
        if current is not None:
            _delete_chat(current, reason="the account was linked to another chat")
        return Chat.objects.create(
            user=user,
            chat_id=who.chat_id,
            username=who.username,
            first_name=who.first_name,
            language_code=who.language_code,
        )


def unlink_chat(*, user: User, notify: bool = False) -> bool:
    """Remove the account's chat link; False if there was none.

    With notify (unlinked in the cabinet or through the API, not by the
    chat's own /stop), the bot tells the chat once the unlink is committed.
    """
    with transaction.atomic():
        chat = Chat.objects.filter(user=user).first()
        if chat is None:
            return False
        _delete_chat(chat, reason="the chat was unlinked")
        if notify:
            tell_chat(chat_id=chat.chat_id, message=text(chat.language_code, "unlinked", username=user.username))
        return True


def unlink_chat_id(*, chat_id: int) -> User | None:
    """Remove the link of a Telegram chat (the bot's /stop); returns its former account."""
    with transaction.atomic():
        chat = Chat.objects.select_related("user").filter(chat_id=chat_id).first()
        if chat is None:
            return None
        _delete_chat(chat, reason="the chat was unlinked")
        return chat.user


def _delete_chat(chat: Chat, *, reason: str) -> None:
    # Called inside a transaction. The row is locked first, so a message
    # being accepted for the chat, or a delivery worker recording an
    # outcome, either commits before this goes on (and what it left queued
    # fails below) or finds the chat gone (relay/services.py,
    # relay/delivery.py). On SQLite the IMMEDIATE transaction already
    # holds the write lock.
    if not Chat.objects.select_for_update().filter(pk=chat.pk).exists():
        return
    # Messages still waiting for this chat must never reach whoever holds
    # the chat next, so they fail now, with the reason.
    failed = Message.objects.filter(chat=chat, status=Message.Status.QUEUED).update(
        status=Message.Status.FAILED, error=f"Not delivered: {reason}.", updated_at=timezone.now()
    )
    transaction.on_commit(lambda: metrics.messages_failed(failed))
    chat.delete()


def tell_chat(*, chat_id: int, message: str) -> None:
    """Have the bot send `message` to the chat once the current transaction commits.

    From the queue, so the page or API call that caused it does not wait on
    Telegram; a send that fails is logged and changes nothing.
    """
    from relaybot.tasks import send_notice_task

    # robust: a queue that cannot take the task must not undo what was committed.
    transaction.on_commit(partial(send_notice_task, chat_id, message), robust=True)


def send_notice(*, chat_id: int, message: str) -> bool:
    """Send one message from the bot, outside delivery; False (logged) if Telegram did not take it."""
    try:
        get_bot().send_message(chat_id, message)
    except TelegramError as error:
        logger.warning("could not send a notice to chat %s: %s", chat_id, error)
        return False
    return True


def mark_unreachable(*, chat: Chat, reason: str) -> None:
    Chat.objects.filter(pk=chat.pk).update(unreachable_reason=reason[:255])


def mark_reachable(*, chat: Chat) -> None:
    """Telegram took a message for the chat after all (an operator retried one): accept new ones again.

    Only the mark the caller saw is cleared: a block recorded since (the bot's
    my_chat_member update) is newer news than this send and stays.
    """
    Chat.objects.filter(pk=chat.pk, unreachable_reason=chat.unreachable_reason).update(unreachable_reason="")
    chat.unreachable_reason = ""


# What Telegram answers a send to a user who blocked the bot; the API's 409 then reads alike either way.
BLOCKED_REASON = "Forbidden: bot was blocked by the user"


def mark_blocked(*, chat_id: int) -> bool:
    """The user blocked the bot (my_chat_member `kicked`): refuse new messages for the chat at once.

    False if no account has the chat. Messages already queued meet Telegram's 403 and fail then.
    """
    return Chat.objects.filter(chat_id=chat_id).update(unreachable_reason=BLOCKED_REASON) == 1


def mark_unblocked(*, chat_id: int) -> bool:
    """The user restarted the bot (my_chat_member `member`): the chat accepts messages again."""
    return Chat.objects.filter(chat_id=chat_id).exclude(unreachable_reason="").update(unreachable_reason="") == 1


def migrate_chat(*, chat: Chat, new_chat_id: int) -> bool:
    """Follow Telegram's move of a group to a supergroup; False if another account holds the new id."""
    if Chat.objects.filter(chat_id=new_chat_id).exclude(pk=chat.pk).exists():
        return False
    Chat.objects.filter(pk=chat.pk).update(chat_id=new_chat_id)
    chat.chat_id = new_chat_id
    return True
