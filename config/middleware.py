"""A cap on request bodies, enforced before anything reads one."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestBodyLimitMiddleware:
    """413 for a body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django checks that limit only where it reads the body itself (forms,
    `request.body`); DRF's JSON parser reads the stream directly, so without
    this a JSON body of any size would be read into memory. The WSGI server
    never passes more than Content-Length bytes, so the declared length is
    the bound; a body without one reads as empty.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return JsonResponse({"detail": f"Request body too large: at most {limit} bytes."}, status=413)
        return self.get_response(request)
