from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


def home(request: HttpRequest) -> HttpResponse:
    # A browser lands in the cabinet; API clients get the map of the service.
    if "text/html" in request.headers.get("Accept", ""):
        return redirect("cabinet:dashboard")
    return JsonResponse(
        {"service": "tg-relay", "cabinet": "/cabinet/", "docs": "/docs/", "redoc": "/redoc/", "schema": "/api/schema/"}
    )


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    # Django's own checks of a request (size, number of form fields, host) end here.
    detail = str(exception) if isinstance(exception, RequestDataTooBig | TooManyFieldsSent) else "Bad request."
    return JsonResponse({"detail": detail}, status=400)


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)
