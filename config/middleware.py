"""The HTTP layer's edges: request bodies (their size, chunked encoding) and HEAD requests."""

import io
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.gunicorn_hooks import close_connection
from publish.topics import is_upload, too_large


def body_limit(method: str, path: str) -> int | None:
    """The largest request body: DATA_UPLOAD_MAX_MEMORY_SIZE, or a file's where ntfy uploads one (publish/ntfy.py)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and is_upload(method, path):
        return max(limit, settings.ATTACHMENT_MAX_BYTES)
    return limit


class RequestBodyLimitMiddleware:
    """413 for a body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE (or a file's limit: `body_limit`).

    Django checks that limit only where it reads the body itself (forms,
    `request.body`); DRF's JSON parser reads the stream directly, so without
    this a JSON body of any size would be read into memory. The WSGI server
    never passes more than Content-Length bytes, so the declared length is
    the bound; a chunked body has been given one by `ChunkedRequestBodies`.
    The body is not read, so the connection closes after the answer: on a
    kept-alive one, its bytes would be taken for the client's next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request.method, request.path_info)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            # Not a Connection header: WSGI forbids it, and gunicorn drops it. (Django's runserver
            # reads the rest of a body itself.)
            close_connection()
            upload = is_upload(request.method, request.path_info)
            body = too_large(limit) if upload else {"detail": f"Request body too large: at most {limit} bytes."}
            response = JsonResponse(body, status=413)
            # Outside CommonMiddleware, which would add it: without it the answer goes out chunked.
            response["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)


class ChunkedRequestBodies:
    """WSGI middleware: a chunked request body (no Content-Length) reaches Django as one of known length.

    Django reads CONTENT_LENGTH bytes of a body and takes a missing length
    for an empty body, so a chunked POST of a message would arrive without
    its text. gunicorn decodes the chunks; this reads at most one byte past
    DATA_UPLOAD_MAX_MEMORY_SIZE of them, so a longer body is declared too
    long and refused with 413 by RequestBodyLimitMiddleware, unread beyond.
    """

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            limit = body_limit(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
            body = _read(environ["wsgi.input"], None if limit is None else limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


def _read(stream, limit: int | None) -> bytes:
    """Up to `limit` bytes of `stream` (all of it with None), however few each read returns."""
    parts, size = [], 0
    while limit is None or size < limit:
        part = stream.read(65536 if limit is None else min(65536, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class HeadAsGetMiddleware:
    """HEAD is answered wherever GET is, with GET's status and headers and no body.

    Monitors and link checkers ask with HEAD; Django's `require_GET` and
    `require_http_methods(["GET", ...])` refuse it with 405. The view runs as
    for a GET, so the answer is the one a GET would get.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "HEAD":
            return self.get_response(request)
        request.method = "GET"
        try:
            response = self.get_response(request)
        finally:
            request.method = "HEAD"
        if response.streaming:
            response.streaming_content = []
        else:
            # GET's length, as RFC 9110 allows a HEAD answer to say.
            response["Content-Length"] = str(len(response.content))
            response.content = b""
        return response
