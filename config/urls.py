from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import views as account_views
from config import docs, views
from publish import ntfy
from relaybot import views as telegram_views

urlpatterns = [
    # POST or PUT to "/" is ntfy's JSON publishing, as on an ntfy server.
    path("", ntfy.or_json_publishing(views.home), name="home"),
    # Before the admin's own: its login is the cabinet's, with the same failed-login limits.
    path("admin/login/", account_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("cabinet/", include("cabinet.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # SPECTACULAR_SETTINGS["REDOC_DIST"] points ReDoc here: its bundle without the CDN logo.
    path("docs/redoc/bundles/redoc.standalone.js", docs.redoc_bundle, name="redoc-bundle"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("relaybot.urls")),
    path("api/v1/", include("relay.urls")),
    path("api/v1/", include("publish.api_urls")),
    path("api/v1/", include("events.urls")),
    path("telegram/webhook/", telegram_views.webhook, name="telegram-webhook"),
    path("hooks/", include("publish.hook_urls")),
    path("", include("ops.urls")),
    # The original assignment's routes, kept verbatim for existing clients.
    path("", include("accounts.compat_urls")),
    path("", include("relaybot.compat_urls")),
    path("", include("relay.compat_urls")),
    # Gotify's POST /message and ntfy's /<topic>: last, after every route of the service's own.
    path("", include("publish.urls")),
]

# Pages for people, JSON under the API's paths (cabinet/errors.py).
handler400 = "cabinet.errors.bad_request"
handler403 = "cabinet.errors.permission_denied"
handler404 = "cabinet.errors.not_found"
handler500 = "cabinet.errors.server_error"
