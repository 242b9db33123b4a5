"""Queue entry points: thin wrappers that call the delivery module."""

import time
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, on_startup

from relay import delivery

# huey's scheduler looks for due tasks once a second, so a turn booked with it
# starts up to a second late: a private chat, allowed a message a second, got
# one every two. A turn due within that second is waited for in the task
# instead, unless another task waits for a thread. Never in immediate mode,
# where the task runs in the thread that queued it.
WAIT_IN_TASK = timedelta(seconds=1)


@db_task()
def deliver_destination_task(destination_pk: int) -> None:
    retry_at = delivery.deliver_destination(destination_pk)
    while retry_at is not None and _can_wait_for(retry_at):
        time.sleep(max((retry_at - timezone.now()).total_seconds(), 0))
        retry_at = delivery.deliver_destination(destination_pk)
    if retry_at is not None:
        deliver_destination_task.schedule((destination_pk,), eta=retry_at)


def _can_wait_for(moment) -> bool:
    return moment - timezone.now() <= WAIT_IN_TASK and not HUEY.immediate and HUEY.pending_count() == 0


@db_periodic_task(crontab(minute="*"))
def sweep_task() -> None:
    """Re-dispatch whatever is due, so a lost task or a killed worker loses nothing."""
    delivery.release_dead_leases()
    for destination_pk in delivery.dispatch_due():
        deliver_destination_task(destination_pk)


@on_startup()
def sweep_on_start() -> None:
    # A worker that starts after a crash picks up at once, not at the next minute.
    sweep_task()
