"""Point the bot's webhook at this service, remove it, or show it.

Telegram then pushes updates to POST /telegram/webhook/ with the secret in
X-Telegram-Bot-Api-Secret-Token, and the web process checks it against
TELEGRAM_WEBHOOK_SECRET. Nothing here prints or logs the bot token.
"""

import re
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from relaybot.client import TelegramError, get_bot

# What Telegram accepts as secret_token.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Telegram delivers webhooks to these ports only.
WEBHOOK_PORTS = (443, 80, 88, 8443)


class Command(BaseCommand):
    help = (
        "Receive bot updates by webhook: setWebhook to <public-url>/telegram/webhook/ with a secret token "
        "(generated unless given), or --delete it, or show it with --info."
    )

    def add_arguments(self, parser):
        parser.add_argument("public_url", nargs="?", help="The service's public URL, e.g. https://relay.example.com")
        parser.add_argument(
            "--secret",
            help="Secret token to use (1-256 of A-Za-z0-9_-). Default: TELEGRAM_WEBHOOK_SECRET, else a new random one.",
        )
        parser.add_argument("--delete", action="store_true", help="Remove the webhook (to go back to polling).")
        parser.add_argument("--info", action="store_true", help="Show the webhook Telegram has for this bot.")
        parser.add_argument(
            "--allow-http", action="store_true", help="Accept http:// and any port (the simulated Telegram only)."
        )

    def handle(self, *args, public_url, secret, delete, info, allow_http, **options):
        if sum([delete, info, bool(public_url)]) != 1:
            raise CommandError("Give exactly one of: a public URL, --delete, --info.")
        try:
            if delete:
                get_bot().delete_webhook()
                self.stdout.write("Webhook removed. Run one `manage.py runbot` to receive updates by polling.")
            elif info:
                self._show_info()
            else:
                self._set(public_url, secret, allow_http=allow_http)
        except TelegramError as error:
            # The client's errors never include the request URL, so never the token.
            raise CommandError(f"The Bot API refused: {error}") from None

    def _set(self, public_url: str, secret: str | None, *, allow_http: bool) -> None:
        url = webhook_url(public_url, allow_http=allow_http)
        if secret:
            source = "given"
        elif settings.TELEGRAM_WEBHOOK_SECRET:
            secret, source = settings.TELEGRAM_WEBHOOK_SECRET, "environment"
        else:
            secret, source = secrets.token_urlsafe(32), "generated"
        if not SECRET_PATTERN.fullmatch(secret):
            raise CommandError("The secret must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -.")
        get_bot().set_webhook(url, secret)
        self.stdout.write(f"Webhook set: Telegram now sends updates to {url}")
        if source == "generated":
            self.stdout.write(
                "Set this secret for the web process (it is not stored anywhere else and is shown only now):\n"
                f"TELEGRAM_WEBHOOK_SECRET={secret}"
            )
        elif source == "given":
            self.stdout.write("Set TELEGRAM_WEBHOOK_SECRET to the secret you gave for the web process.")
        else:
            self.stdout.write("Used TELEGRAM_WEBHOOK_SECRET from the environment; the web process needs the same.")
        self.stdout.write("Stop `manage.py runbot` if it runs: Telegram answers no polling while a webhook is set.")

    def _show_info(self) -> None:
        info = get_bot().get_webhook_info()
        self.stdout.write(f"url: {info.get('url') or '(none: updates are kept for polling)'}")
        self.stdout.write(f"pending_update_count: {info.get('pending_update_count', 0)}")
        self.stdout.write(f"last_error_message: {info.get('last_error_message') or '(none)'}")


def webhook_url(public_url: str, *, allow_http: bool = False) -> str:
    """The webhook address for a public URL: its path plus /telegram/webhook/, unless already there."""
    parts = urlsplit(public_url.strip())
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        hint = "" if allow_http else " (Telegram delivers webhooks over https only; --allow-http is for testing)"
        raise CommandError(f"The public URL must start with {' or '.join(s + '://' for s in schemes)}{hint}.")
    try:
        port = parts.port
    except ValueError:
        raise CommandError("The public URL has an invalid port.") from None
    if not parts.hostname:
        raise CommandError("The public URL needs a host name.")
    if parts.query or parts.fragment:
        raise CommandError("The public URL must have no query or fragment.")
    if not allow_http and port is not None and port not in WEBHOOK_PORTS:
        raise CommandError("Telegram delivers webhooks only to ports 443, 80, 88 and 8443.")
    endpoint = reverse("telegram-webhook")  # /telegram/webhook/
    path = parts.path.rstrip("/") + "/"
    if not path.endswith(endpoint):
        path = path.rstrip("/") + endpoint
    return parts._replace(path=path).geturl()
