"""Error pages: styled and translated for people, JSON for the API.

config/urls.py points Django's handler400/403/404/500 here, and settings
CSRF_FAILURE_VIEW; ErrorPageMiddleware gives the same page to the bare 405s
and 429s that views answer without a body. Anything under the API's prefixes,
or asked for as JSON only, keeps the JSON body API clients parse.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from config import views as api_errors

# The API's own paths, the original assignment's routes, the webhook and the probes.
API_PREFIXES = ("/api/", "/users/", "/bot/", "/message/", "/telegram/", "/healthz", "/readyz", "/metrics")

PAGES = {
    400: (_("Bad request"), _("This request could not be understood. Go back, reload the page and try again.")),
    403: (_("Forbidden"), _("You may not open this page.")),
    404: (_("Page not found"), _("There is nothing at this address. Check it, or start again from the dashboard.")),
    405: (
        _("This address does not open as a page"),
        _("It only takes a form sent from the cabinet. Start again from the dashboard."),
    ),
    429: (_("Too many requests"), _("Wait a few minutes and try again.")),
    500: (_("Something went wrong"), _("The server ran into an error, and it is logged. Try again in a moment.")),
}
CSRF_PAGE = (
    _("This form has expired"),
    _("The page was open too long, or the browser blocks cookies. Go back, reload the page and send the form again."),
)
# Headers a bare error response carries that its page must keep.
KEPT_HEADERS = ("Allow", "Retry-After")


def wants_json(request: HttpRequest) -> bool:
    if request.path.startswith(API_PREFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/html" not in accept


def error_page(status: int, *, title: str | None = None, text: str | None = None) -> HttpResponse:
    """The page for people. Rendered without the request: no session, user or database, so a 500 can show it too."""
    default_title, default_text = PAGES[status]
    context = {"status": status, "title": title or default_title, "text": text or default_text}
    return HttpResponse(render_to_string("cabinet/error.html", context), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return api_errors.bad_request(request, exception)
    return error_page(400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return error_page(403)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return api_errors.not_found(request, exception)
    return error_page(404)


def server_error(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return api_errors.server_error(request)
    return error_page(500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"detail": f"CSRF Failed: {reason}"}, status=403)
    title, text = CSRF_PAGE
    return error_page(403, title=title, text=text)


class ErrorPageMiddleware:
    """A bare error answer to a person (405 from require_POST, a 429) gets its page.

    Responses with a body of their own (an API's JSON, a page) are left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code not in PAGES or response.streaming or response.content or wants_json(request):
            return response
        page = error_page(response.status_code)
        for header in KEPT_HEADERS:
            if header in response:
                page[header] = response[header]
        return page
