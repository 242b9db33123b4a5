from django.urls import path

from publish import views

urlpatterns = [
    path("integrations/", views.IntegrationListApi.as_view(), name="api-integrations"),
    path("integrations/<int:integration_id>/", views.IntegrationDetailApi.as_view(), name="api-integration"),
]
