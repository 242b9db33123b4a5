"""Log lines as JSON, one object a line, with the bot token kept out of them.

The formatter is these few lines rather than a dependency (python-json-logger):
all it has to do is put the record's fields, `extra=` ones included, into one
json.dumps call.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings

REDACTED = "[redacted]"
# What every LogRecord carries; any other attribute came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extra_fields(record: logging.LogRecord) -> dict:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra fields, "exc_info"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactBotToken(logging.Filter):
    """Replaces the configured bot token in a record's message, traceback and extra fields.

    A second line of defence: nothing should log the token in the first place
    (it is part of every Bot API URL, which is why httpx stays at WARNING).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        token = settings.TELEGRAM_BOT_TOKEN
        if not token:
            return True
        # The part after the colon is the secret: matching it alone also
        # catches the token URL-encoded (`%3A`) and leaves the public bot id.
        secret = token.partition(":")[2]
        needle = secret if len(secret) >= 16 else token
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for key in ("exc_text", "stack_info", *_extra_fields(record)):
            value = getattr(record, key)
            if isinstance(value, str) and needle in value:
                setattr(record, key, value.replace(needle, REDACTED))
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # A malformed call: the handler reports it, as it would anyway.
        if needle in message:
            record.msg, record.args = message.replace(needle, REDACTED), None
        return True
