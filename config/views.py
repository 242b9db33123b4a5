from django.http import HttpRequest, JsonResponse


def home(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"service": "tg-relay", "docs": "/docs/", "redoc": "/redoc/", "schema": "/api/schema/"})


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)
