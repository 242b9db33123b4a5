"""The API docs pages (Swagger UI and ReDoc), served with nothing from another host.

drf-spectacular-sidecar ships both front ends, but ReDoc's bundle draws the
logo in its sidebar footer from cdn.redoc.ly, with no option to turn it off.
The bundle is therefore served here with that one address replaced by an
empty image, which ReDoc's own error handler then hides.
"""

from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
# Not an image: the <img> fails at once, without a request, and ReDoc removes it.
NO_IMAGE = b'"data:,"'


@cache
def redoc_bundle_bytes() -> bytes:
    path = finders.find(REDOC_BUNDLE)
    if path is None:
        raise RuntimeError(f"{REDOC_BUNDLE} is missing: is drf-spectacular-sidecar installed?")
    with open(path, "rb") as bundle:
        source = bundle.read()
    # Loudly, if an upgrade of the sidecar moves the logo: the docs test then fails too.
    if source.count(REDOC_LOGO) != 1:
        raise RuntimeError(f"{REDOC_BUNDLE} no longer names the logo once; look at what it loads now")
    return source.replace(REDOC_LOGO, NO_IMAGE)


@require_safe
@gzip_page
@cache_control(public=True, max_age=86400)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(redoc_bundle_bytes(), content_type="text/javascript; charset=utf-8")
