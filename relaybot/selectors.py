from django.conf import settings
from django.core.cache import caches
from django.urls import reverse

from accounts.models import User
from relay import selectors as relay_selectors
from relay.models import Destination
from relaybot.client import TelegramError, get_bot


def chat_for_user(*, user: User) -> Destination | None:
    """The account's private chat with the bot: where its password reset and notices go."""
    return relay_selectors.private_destination(user=user)


def bot_username() -> str | None:
    """The bot's @username for deep links, from settings or a cached getMe."""
    if settings.TELEGRAM_BOT_USERNAME:
        return settings.TELEGRAM_BOT_USERNAME
    # Each process asks once an hour; the answer needs no sharing.
    key = f"telegram:bot-username:{settings.TELEGRAM_API_URL}"
    username = caches["local"].get(key)
    if username is None:
        try:
            username = get_bot().get_me().get("username")
        except TelegramError:
            return None
        caches["local"].set(key, username, 3600)
    return username


def deep_link(code: str) -> str | None:
    username = bot_username()
    return f"https://t.me/{username}?start={code}" if username else None


def group_link(code: str) -> str | None:
    """Lets the user pick a group: Telegram adds the bot and sends `/start@<bot> <code>` there."""
    username = bot_username()
    return f"https://t.me/{username}?startgroup={code}" if username else None


def start_command(code: str) -> str:
    """What to send in a group, a topic or a channel the bot is already in."""
    username = bot_username()
    return f"/start@{username} {code}" if username else f"/start {code}"


def verify_page_url() -> str:
    """The cabinet's page that takes a verification code, with its form open, at the public address."""
    return f"{settings.PUBLIC_URL}{reverse('cabinet:dashboard')}?verify=1#verify"
