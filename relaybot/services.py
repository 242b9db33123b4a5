import logging
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from relay import destinations
from relay import selectors as relay_selectors
from relay.destinations import ChatInfo
from relay.models import Destination
from relaybot import codes
from relaybot.client import TelegramError, get_bot
from relaybot.models import LinkCode
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


def create_link_code(*, user: User, label: str = "") -> tuple[LinkCode, str]:
    """A fresh link code for the account; earlier unused ones for the same label stop working.

    Redeemed in a private chat, a group, a forum topic or a channel, it
    links that chat (or topic) as a destination named `label`.
    """
    code = codes.new_link_code()
    with transaction.atomic():
        LinkCode.objects.filter(kind=LinkCode.Kind.LINK, user=user, label=label, used_at__isnull=True).delete()
        link_code = LinkCode.objects.create(
            kind=LinkCode.Kind.LINK,
            code_hash=codes.hash_code(code),
            user=user,
            label=label,
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


def link_by_link_code(*, code: str, chat: ChatInfo) -> Destination:
    """Redeem a link code sent to the bot: the chat (or topic) it was sent in joins the code's account."""
    with transaction.atomic():
        link_code = _redeem(kind=LinkCode.Kind.LINK, code=code)
        return destinations.link(user=link_code.user, chat=chat, label=link_code.label)


def link_by_verification_code(*, user: User, code: str) -> Destination:
    """Redeem a verification code the bot handed out: its private chat joins `user`."""
    with transaction.atomic():
        link_code = _redeem(kind=LinkCode.Kind.VERIFY, code=codes.normalize_verification_code(code))
        chat = ChatInfo(
            chat_id=link_code.chat_id,
            kind=Destination.Kind.PRIVATE,
            title=link_code.chat_first_name,
            username=link_code.chat_username,
            language_code=link_code.chat_language_code,
        )
        return destinations.link(user=user, chat=chat)


def private_chat(who: TelegramUser) -> ChatInfo:
    return ChatInfo(
        chat_id=who.chat_id,
        kind=Destination.Kind.PRIVATE,
        title=who.first_name,
        username=who.username,
        language_code=who.language_code,
    )


def link_private_chat(*, user: User, who: TelegramUser) -> Destination:
    """Tie the person's private chat with the bot to the account (see relay.destinations.link)."""
    return destinations.link(user=user, chat=private_chat(who))


def unlink_chat(*, user: User, notify: bool = False) -> bool:
    """Remove the account's private chat; False if there was none (the API's and the cabinet's unlink)."""
    destination = relay_selectors.private_destination(user=user)
    return destination is not None and remove_destination(destination=destination, notify=notify)


def remove_destination(*, destination: Destination, notify: bool = False) -> bool:
    """Remove a destination at the account's wish; with notify, the bot tells the chat once it is committed."""
    with transaction.atomic():
        if not destinations.remove(destination=destination, reason="the chat was unlinked"):
            return False
        if notify:
            message = text(destination.language_code, "unlinked", username=destination.user.username)
            tell_chat(chat_id=destination.chat_id, message=message, thread_id=destination.thread_id)
        return True


def unlink_chat_id(*, chat_id: int, thread_id: int | None = None) -> list[User]:
    """Remove every link of a Telegram chat or topic (the chat's own /stop); returns the accounts it left."""
    return destinations.unlink_chat(chat_id=chat_id, thread_id=thread_id)


def tell_chat(*, chat_id: int, message: str, thread_id: int | None = None) -> None:
    """Have the bot send `message` to the chat once the current transaction commits.

    From the queue, so the page or API call that caused it does not wait on
    Telegram; a send that fails is logged and changes nothing.
    """
    from relaybot.tasks import send_notice_task

    # robust: a queue that cannot take the task must not undo what was committed.
    transaction.on_commit(partial(send_notice_task, chat_id, message, thread_id), robust=True)


def send_notice(*, chat_id: int, message: str, thread_id: int | None = None) -> bool:
    """Send one message from the bot, outside delivery; False (logged) if Telegram did not take it."""
    try:
        get_bot().send_message(chat_id, message, thread_id=thread_id)
    except TelegramError as error:
        logger.warning("could not send a notice to chat %s: %s", chat_id, error)
        return False
    return True


def mark_blocked(*, chat_id: int) -> bool:
    """The user blocked the bot (my_chat_member `kicked`): refuse new messages for the chat at once.

    False if no account has the chat. Messages already queued meet Telegram's 403 and fail then.
    """
    return destinations.chat_unreachable(chat_id=chat_id, reason=destinations.BLOCKED_REASON) > 0


def mark_unblocked(*, chat_id: int) -> bool:
    """The user restarted the bot (my_chat_member `member`): the chat accepts messages again."""
    return destinations.chat_reachable(chat_id=chat_id) > 0
