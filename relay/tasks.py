"""Queue entry points: thin wrappers that call the delivery module."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from relay import delivery


@db_task()
def deliver_destination_task(destination_pk: int) -> None:
    retry_at = delivery.deliver_destination(destination_pk)
    if retry_at is not None:
        deliver_destination_task.schedule((destination_pk,), eta=retry_at)


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
