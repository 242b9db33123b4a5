from django.urls import re_path

from accounts import views

# Each route answers with and without the trailing slash.
urlpatterns = [
    re_path(r"^users/signup/?$", views.SignupCompatApi.as_view(), name="compat-signup"),
    re_path(r"^users/login/?$", views.LoginCompatApi.as_view(), name="compat-login"),
]
