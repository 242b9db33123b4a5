"""What the cabinet's tests share: a page's text as a person reads it, and a message sent through the API."""

import re
from html import unescape

from relay.tests.helpers import MESSAGES_URL


def shown(html: str) -> str:
    """The page's text as a person reads it: markup dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def post(api, **body) -> dict:
    """A message sent through the API, accepted."""
    response = api.post(MESSAGES_URL, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()
