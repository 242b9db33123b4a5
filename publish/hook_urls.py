"""The hooks' addresses, mounted under hooks/ (config/urls.py); the secret is what token_urlsafe makes."""

from django.urls import re_path

from publish import hooks

SECRET = r"(?P<secret>[-_A-Za-z0-9]{1,256})"

urlpatterns = [
    re_path(rf"^{SECRET}/alertmanager/?$", hooks.alertmanager, name="hook-alertmanager"),
    re_path(rf"^{SECRET}/grafana/?$", hooks.grafana, name="hook-grafana"),
    re_path(rf"^{SECRET}/?$", hooks.webhook, name="hook"),
]
