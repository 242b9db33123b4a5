from django.urls import re_path

from relay import views

urlpatterns = [re_path(r"^message/sent/?$", views.SentCompatApi.as_view(), name="compat-sent")]
