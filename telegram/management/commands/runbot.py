import logging
import time

from django.core.management.base import BaseCommand, CommandError

from telegram.bot import handle_update
from telegram.client import TelegramError, get_bot

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Receive bot updates by long polling and answer them (the alternative to the webhook)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=int, default=30, help="Long-poll timeout in seconds (at most 50).")
        parser.add_argument(
            "--delete-webhook", action="store_true", help="Remove a webhook set earlier, which blocks polling."
        )

    def handle(self, *args, timeout: int, delete_webhook: bool, **options):
        bot = get_bot()
        try:
            me = bot.get_me()
            webhook_url = bot.get_webhook_info().get("url")
        except TelegramError as error:
            raise CommandError(f"The Bot API did not answer getMe: {error}") from None
        if webhook_url and not delete_webhook:
            raise CommandError("A webhook is set for this bot; polling cannot run beside it. Use --delete-webhook.")
        if webhook_url:
            bot.delete_webhook()
        self.stdout.write(f"Polling for updates to @{me.get('username')}", ending="\n")
        self.stdout.flush()
        offset = None
        failures = 0
        while True:
            try:
                updates = bot.get_updates(offset, timeout=min(timeout, 50))
                failures = 0
            except TelegramError as error:
                failures += 1
                # Back off while Telegram is unreachable, without spinning.
                delay = min(2**failures, 60)
                logger.warning("getUpdates failed (%s); retrying in %s s", error, delay)
                time.sleep(delay)
                continue
            for update in updates or []:
                try:
                    handle_update(update)
                except Exception:
                    logger.exception("update %s could not be handled", update.get("update_id"))
                offset = max(offset or 0, int(update.get("update_id", 0)) + 1)
