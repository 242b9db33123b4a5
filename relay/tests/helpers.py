"""Small helpers shared by the relay tests: the API calls they all make."""

import json

from rest_framework.test import APIClient

from relay.models import Message
from relay.splitting import format_header

MESSAGES_URL = "/api/v1/messages/"
LINK_URL = "/api/v1/telegram/link/"


def message_url(message_id: int) -> str:
    return f"{MESSAGES_URL}{message_id}/"


def delivered_text(name: str, text: str) -> str:
    """What the chat must show for `text` sent by the account named `name`."""
    return format_header(name) + text


def post_text(api: APIClient, text: str) -> dict:
    """POST a message that must be accepted; returns the 202 body."""
    response = api.post(MESSAGES_URL, {"text": text}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def get_message(api: APIClient, message_id: int) -> dict:
    response = api.get(message_url(message_id))
    assert response.status_code == 200, response.content
    return response.json()


def streamed_json(response) -> object:
    """The JSON of a streamed answer (`GET /message/sent`), read whole."""
    assert response.streaming, "expected a streamed answer"
    return json.loads(b"".join(response.streaming_content))


def stored(message_id: int) -> Message:
    """The row itself, for what the API does not show (next attempt time, parts)."""
    return Message.objects.get(pk=message_id)


def texts(sent: list[dict]) -> list[str]:
    return [record["text"] for record in sent]
