import logging
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from relaybot.bot import handle_update
from relaybot.client import TelegramError, get_bot

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
        # Telegram unreachable at start is an outage like any other: wait it out,
        # and leave the web server and the worker beside us running meanwhile.
        me = _until_answered("getMe", bot.get_me)
        webhook_url = _until_answered("getWebhookInfo", bot.get_webhook_info).get("url")
        if webhook_url and not delete_webhook:
            raise CommandError("A webhook is set for this bot; polling cannot run beside it. Use --delete-webhook.")
        if webhook_url:
            _until_answered("deleteWebhook", bot.delete_webhook)
        self.stdout.write(f"Polling for updates to @{me.get('username')}", ending="\n")
        self.stdout.flush()
        offset = None
        failed = _FailedUpdate()
        while True:
            updates = _until_answered("getUpdates", partial(bot.get_updates, offset, timeout=min(timeout, 50)))
            offset = _handle(updates or [], offset, failed)


class _FailedUpdate:
    """The update whose handling last failed, and how many times it has."""

    update_id: int | None = None
    attempts: int = 0

    def count(self, update_id: int) -> int:
        if update_id != self.update_id:
            self.update_id, self.attempts = update_id, 0
        self.attempts += 1
        return self.attempts


def _handle(updates: list, offset: int | None, failed: _FailedUpdate) -> int | None:
    """Handle updates in order; returns the offset that confirms those done with.

    An update whose handling raised is not confirmed, so the next getUpdates
    brings it back with everything after it, in order: as Telegram redelivers
    a webhook call that failed. After BOT_UPDATE_MAX_ATTEMPTS it is logged and
    skipped, so one update that can never be handled does not stop the bot.
    """
    for update in updates:
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            continue  # Nothing to confirm it by; the next update's offset confirms it.
        try:
            handle_update(update)
        except Exception:
            attempts = failed.count(update_id)
            if attempts >= settings.BOT_UPDATE_MAX_ATTEMPTS:
                logger.exception(
                    "update %s could not be handled in %s attempts; skipping it", update_id, attempts,
                    extra={"update_id": update_id, "outcome": "skipped"},
                )  # fmt: skip
            else:
                delay = _backoff(attempts)
                logger.warning(
                    "update %s could not be handled (attempt %s of %s); trying it again in %s s",
                    update_id, attempts, settings.BOT_UPDATE_MAX_ATTEMPTS, delay,
                    exc_info=True, extra={"update_id": update_id, "outcome": "retry"},
                )  # fmt: skip
                time.sleep(delay)
                return offset
        offset = max(offset or 0, update_id + 1)
    return offset


def _until_answered[T](method: str, call: Callable[[], T]) -> T:
    """The Bot API's answer to `call`, trying again with backoff while there is none."""
    failures = 0
    while True:
        try:
            return call()
        except TelegramError as error:
            failures += 1
            delay = _backoff(failures)
            # The client's errors never hold the request URL, so never the token.
            logger.warning(
                "%s failed (%s); trying again in %s s", method, error, delay,
                extra={"method": method, "attempt": failures},
            )  # fmt: skip
            time.sleep(delay)


def _backoff(failures: int) -> float:
    """2, 4, 8 ... seconds, up to BOT_BACKOFF_MAX_SECONDS."""
    return min(2**failures, settings.BOT_BACKOFF_MAX_SECONDS)
