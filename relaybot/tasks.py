"""Queue entry points of the telegram app: thin wrappers that call its services."""

from huey.contrib.djhuey import task

from relaybot import services


@task()
def send_notice_task(chat_id: int, message: str, thread_id: int | None = None) -> None:
    services.send_notice(chat_id=chat_id, message=message, thread_id=thread_id)
