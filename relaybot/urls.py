from django.urls import path

from relaybot import views

urlpatterns = [
    path("telegram/link/", views.LinkApi.as_view(), name="api-telegram-link"),
    path("telegram/verify/", views.VerifyApi.as_view(), name="api-telegram-verify"),
]
