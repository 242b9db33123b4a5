from django.urls import re_path

from ops import views

# Probes and scrapers are configured with or without the slash; both work.
urlpatterns = [
    re_path(r"^healthz/?$", views.healthz, name="healthz"),
    re_path(r"^readyz/?$", views.readyz, name="readyz"),
    re_path(r"^metrics/?$", views.metrics, name="metrics"),
]
