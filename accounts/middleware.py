from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.html import escape
from django.utils.translation import gettext as _

from accounts.hashers import HashingBusy, hashing_slot

# The ways in that hash a password for anyone who asks: sign-up and log-in.
HASHING_VIEWS = {"api-register", "api-token", "compat-signup", "compat-login", "cabinet:signup", "cabinet:login"}


def busy(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON for the API, a page for people."""
    if request.path_info.startswith("/cabinet/"):
        title = escape(_("The server is busy"))
        text = escape(_("It is checking other passwords right now. Send the form again in a second."))
        page = f'<!doctype html><meta charset="utf-8"><title>{title}</title><h1>{title}</h1><p>{text}</p>'
        response = HttpResponse(page, status=503)
    else:
        response = JsonResponse({"detail": str(HashingBusy.default_detail)}, status=503)
    response["Retry-After"] = str(HashingBusy.wait)
    return response


class HashingGateMiddleware:
    """A sign-up or login takes the machine's hashing slot before anything else runs.

    While every slot is busy, a burst of them is answered 503 in about a
    millisecond each, so gunicorn's few sync workers get through the burst at
    once and go back to health checks and message posts. The hasher then uses
    the slot the request holds (accounts/hashers.py).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not _hashes(request):
            return self.get_response(request)
        try:
            with hashing_slot():
                return self.get_response(request)
        except HashingBusy:
            # Only the slot above: anything the view raises has become a response by now.
            return busy(request)


def _hashes(request: HttpRequest) -> bool:
    try:
        return resolve(request.path_info).view_name in HASHING_VIEWS
    except Resolver404:
        return False


class HashingBusyMiddleware:
    """The page that says to come back in a second when a hash found every slot taken (the API answers that itself).

    The cabinet's login and sign-up keep their slots on the request
    (cabinet/throttling.py): nothing was checked, so they count nothing.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, HashingBusy):
            return None
        # Nothing was checked and no account made: the slots taken for it go back.
        for name in ("login_attempt", "signup_reservation"):
            if (reservation := getattr(request, name, None)) is not None:
                reservation.give_back()
        return busy(request)
