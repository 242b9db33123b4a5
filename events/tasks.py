"""Queue entry points for webhooks out: thin wrappers around events.services."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from events import services


@db_task()
def deliver_webhook_task(delivery_pk: int) -> None:
    retry_at = services.deliver(delivery_pk)
    if retry_at is not None:
        deliver_webhook_task.schedule((delivery_pk,), eta=retry_at)


@db_periodic_task(crontab(minute="*"))
def sweep_webhooks_task() -> None:
    """Hand out the deliveries that are due, so a lost task or a killed worker loses no event."""
    for delivery_pk in services.due_deliveries():
        deliver_webhook_task(delivery_pk)


@db_periodic_task(crontab(hour="3", minute="29"))
def prune_webhook_deliveries_task() -> None:
    """Daily: forget delivered and failed deliveries past services.RETENTION."""
    services.prune_deliveries()
