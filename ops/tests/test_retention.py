"""MESSAGE_RETENTION_DAYS: sent messages pruned daily, nothing else; old update ids forgotten."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from conftest import ALICE_CHAT, link
from ops.services import prune_old_messages
from ops.tasks import prune_task
from relay.models import Message
from relaybot.models import ProcessedUpdate

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime(2026, 6, 1, 12, 0))


def message(user, chat, status, age: timedelta, sent_age: timedelta | None = None) -> Message:
    created = NOW - age
    sent_at = NOW - (sent_age if sent_age is not None else age) if status == Message.Status.SENT else None
    return Message.objects.create(
        user=user, destination=chat, text=f"{status} {age}", status=status, created_at=created, sent_at=sent_at
    )


@pytest.fixture
def chat(alice):
    return link(alice, ALICE_CHAT)


def remaining() -> set[str]:
    return set(Message.objects.values_list("text", flat=True))


def test_retention_is_off_by_default(settings, alice, chat):
    assert settings.MESSAGE_RETENTION_DAYS == 0
    message(alice, chat, Message.Status.SENT, timedelta(days=3650))

    assert prune_old_messages(now=NOW) == 0
    assert Message.objects.count() == 1


def test_sent_messages_older_than_the_retention_are_deleted(settings, alice, bob, chat):
    settings.MESSAGE_RETENTION_DAYS = 30
    bob_chat = link(bob, 2002)
    message(alice, chat, Message.Status.SENT, timedelta(days=31))
    message(bob, bob_chat, Message.Status.SENT, timedelta(days=400))
    kept = {
        message(alice, chat, Message.Status.SENT, timedelta(days=29)).text,
        # Accepted long ago, delivered recently (after retries): counted from delivery.
        message(alice, chat, Message.Status.SENT, timedelta(days=40), sent_age=timedelta(days=2)).text,
        # Never delivered: kept whatever the age, for the user and the operator to see.
        message(alice, chat, Message.Status.FAILED, timedelta(days=100)).text,
        message(bob, bob_chat, Message.Status.QUEUED, timedelta(days=100)).text,
    }

    assert prune_old_messages(now=NOW) == 2
    assert remaining() == kept


def test_processed_update_ids_are_forgotten_after_two_days_even_with_retention_off(settings):
    assert settings.MESSAGE_RETENTION_DAYS == 0
    ProcessedUpdate.objects.create(update_id=1, received_at=NOW - timedelta(days=2, seconds=1))
    ProcessedUpdate.objects.create(update_id=2, received_at=NOW - timedelta(days=1, hours=23))
    ProcessedUpdate.objects.create(update_id=3, received_at=NOW)

    prune_old_messages(now=NOW)

    assert set(ProcessedUpdate.objects.values_list("update_id", flat=True)) == {2, 3}


def test_the_daily_task_prunes(settings, alice, chat):
    settings.MESSAGE_RETENTION_DAYS = 1
    old = Message.objects.create(
        user=alice, destination=chat, text="old", status=Message.Status.SENT, sent_at=timezone.now() - timedelta(days=2)
    )

    prune_task()

    assert not Message.objects.filter(pk=old.pk).exists()


def test_the_task_is_scheduled_once_a_day():
    def due(hour: int, minute: int) -> bool:
        return any(
            isinstance(task, prune_task.task_class) for task in HUEY.read_periodic(datetime(2026, 6, 1, hour, minute))
        )

    assert [(hour, minute) for hour in range(24) for minute in range(60) if due(hour, minute)] == [(3, 17)]
