"""Request parsers: DRF's, with every malformed body answered 400."""

import io

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; JSON nested deeper than Python's parser goes is a 400 like any other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class PlainTextParser(parsers.BaseParser):
    """A `text/plain` body is the message itself: `curl -H 'Content-Type: text/plain' -d 'Backup done'`."""

    media_type = "text/plain"

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return {"text": stream.read().decode(encoding)}
        except (UnicodeDecodeError, LookupError):
            raise ParseError("The body is not text in its charset.") from None


class FormOrTextParser(parsers.FormParser):
    """A form, or, when the body has no field in it, the message itself.

    `curl -d 'Backup done'` sends a bare text labelled as a form; read as a
    form it would be one field named after the text, with no value.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        if body and b"=" not in body:
            encoding = (parser_context or {}).get("encoding", "utf-8")
            try:
                return {"text": body.decode(encoding)}
            except (UnicodeDecodeError, LookupError):
                raise ParseError("The body is not text in its charset.") from None
        return super().parse(io.BytesIO(body), media_type, parser_context)
