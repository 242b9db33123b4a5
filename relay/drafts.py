"""The one message value every way in builds and the accept service takes.

The native API, the original routes, ntfy, Gotify, webhooks and the cabinet
each parse their request into a Draft (and nothing else); relay/services.py
decides the rest and fixes the content on the row.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

FORMATS = ("text", "markdown", "html")
# Inline buttons on one message: up to this many rows of up to this many, as a notification needs...
MAX_BUTTONS = 8
# ...and Telegram's limit for a whole keyboard, which those never reach.
MAX_KEYBOARD = 100
MAX_TITLE_LENGTH = 250
# What a button's label, an answer and an attachment's name may hold.
MAX_BUTTON_TEXT = 64
MAX_ANSWER = 64
MAX_FILENAME = 255


# A link a button may open: http, https or tg, a host, and no white space in Python's sense or JSON Schema's.
LINK_PATTERN = r"^(http|https|tg|HTTP|HTTPS|TG)://[^\s\u0000\u001c-\u001f\u0085/?#]+[^\s\u0000\u001c-\u001f\u0085]*$"
LINK = re.compile(LINK_PATTERN)


@dataclass(frozen=True)
class Button:
    """An inline button under the message: a link (`url`), or an answer to the message as a question (`answer`)."""

    text: str
    url: str = ""
    answer: str = ""


@dataclass(frozen=True)
class Attachment:
    """A file to send with the message (sendDocument, or sendPhoto for an image)."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Draft:
    """A message as a client asked for it, before the service decides where it goes."""

    text: str
    title: str = ""
    format: str = "text"
    # None: as the destination is set; True or False: this message's own choice.
    silent: bool | None = None
    # ntfy's tags: emoji shortcodes become emoji before the title, other tags a line of #tags.
    tags: tuple[str, ...] = ()
    # ntfy's click: where tapping leads; a button under the message.
    click: str = ""
    # Link buttons, one a row (ntfy's view actions, Gotify's click).
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    # Rows of buttons as given: links and answers.
    keyboard: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)
    # A question: a Telegram reply to it is an answer too; answers are taken until expires_at.
    accept_reply: bool = False
    expires_at: datetime | None = None
    # Not before this moment; None: at once.
    deliver_at: datetime | None = None
    attachment: Attachment | None = None
