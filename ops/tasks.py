"""Queue entry points for housekeeping: thin wrappers around ops.services."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ops import services


@db_periodic_task(crontab(hour="3", minute="17"))
def prune_task() -> None:
    """Daily: delete sent messages past MESSAGE_RETENTION_DAYS (off when 0) and old update ids."""
    services.prune_old_messages()
