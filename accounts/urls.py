from django.urls import path

from accounts import views

urlpatterns = [
    path("auth/register/", views.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", views.TokenApi.as_view(), name="api-token"),
    path("auth/tokens/", views.NamedTokenListApi.as_view(), name="api-tokens"),
    path("auth/tokens/<str:token_id>/", views.NamedTokenDetailApi.as_view(), name="api-token-detail"),
    path("auth/account/delete/", views.AccountDeleteApi.as_view(), name="api-account-delete"),
]
