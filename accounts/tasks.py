"""Queue entry points of the accounts app: thin wrappers that call its services."""

from huey.contrib.djhuey import db_task

from accounts import services


@db_task()
def send_password_reset_task(username: str, base_url: str) -> None:
    services.send_password_reset(username=username, base_url=base_url)
