from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import timezone, translation

from cabinet.time_zones import reader_zone

# Pages for people: these follow the browser's language and the switcher.
LOCALIZED_PREFIXES = ("/cabinet/", "/admin/")


class CabinetLocaleMiddleware(LocaleMiddleware):
    """The browser's language (or the one chosen in the switcher) for the cabinet and the admin.

    Everything else, the API above all, answers in LANGUAGE_CODE whatever
    Accept-Language says, so API clients keep getting the messages they parse.
    """

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(LOCALIZED_PREFIXES):
            super().process_request(request)
            return
        # Activated on every request: a thread keeps the language of the last request it served.
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.path_info.startswith(LOCALIZED_PREFIXES):
            return super().process_response(request, response)
        return response


class CabinetTimeZoneMiddleware:
    """The reader's time zone (cabinet/time_zones.py) for the pages for people; UTC for everything else.

    After AuthenticationMiddleware: the profile's setting comes first.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(LOCALIZED_PREFIXES):
            timezone.activate(reader_zone(request))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            # A thread keeps the zone of the last request it served otherwise.
            timezone.deactivate()
