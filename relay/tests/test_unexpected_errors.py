"""An error nobody foresaw while delivering a message is a failed attempt, never a jam of the chat."""

import pytest

from conftest import ALICE_CHAT, make_due, run_sweep
from relay.tests.helpers import delivered_text, get_message, post_text, texts
from relaybot.client import BotClient

pytestmark = pytest.mark.django_db(transaction=True)


class Surprise(Exception):
    """What no branch of delivery expects."""


@pytest.fixture
def poisoned_sends(monkeypatch):
    """Sending a text that holds "poison" raises Surprise, as a bug on the way to Telegram would."""
    send = BotClient.send_message

    def send_or_raise(self, chat_id, text, **options):
        if "poison" in text:
            raise Surprise("the relay's own fault, with details")
        return send(self, chat_id, text)

    monkeypatch.setattr(BotClient, "send_message", send_or_raise)


def test_an_unexpected_error_is_a_failed_attempt_named_by_its_class(tg, alice_linked, settings, poisoned_sends):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 100

    body = post_text(alice_linked, "poison")

    message = get_message(alice_linked, body["id"])
    assert message["status"] == "queued"
    assert message["attempts"] == 1
    # The class, not the exception's text: that may quote anything.
    assert message["error"] == "Surprise"


def test_a_message_that_keeps_failing_unexpectedly_gives_up_and_lets_the_next_one_through(
    tg, alice_linked, settings, poisoned_sends
):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    poison = post_text(alice_linked, "poison")
    behind = post_text(alice_linked, "behind it")
    # Behind it in the queue: the chat keeps the accepted order.
    assert get_message(alice_linked, behind["id"])["status"] == "queued"
    assert tg.sent() == []

    for _ in range(2):
        make_due()
        run_sweep()

    failed = get_message(alice_linked, poison["id"])
    assert failed["status"] == "failed"
    assert failed["attempts"] == 3
    assert failed["error"] == "Gave up after 3 attempts: Surprise"
    assert get_message(alice_linked, behind["id"])["status"] == "sent"
    assert texts(tg.sent(chat_id=ALICE_CHAT)) == [delivered_text("Alice", "behind it")]
