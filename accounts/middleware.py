from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

from accounts.hashers import HashingBusy


class HashingBusyMiddleware:
    """A page that says to come back in a second when every hashing slot is taken (the API answers that itself).

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
        title = escape(_("The server is busy"))
        text = escape(_("It is checking other passwords right now. Send the form again in a second."))
        page = f'<!doctype html><meta charset="utf-8"><title>{title}</title><h1>{title}</h1><p>{text}</p>'
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(HashingBusy.wait)
        return response
