from django.urls import re_path

from relaybot import views

urlpatterns = [re_path(r"^bot/verify/?$", views.VerifyCompatApi.as_view(), name="compat-verify")]
