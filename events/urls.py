from django.urls import path

from events import views

urlpatterns = [
    path("webhooks/", views.WebhookListApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:webhook_id>/", views.WebhookDetailApi.as_view(), name="api-webhook"),
    path("webhooks/<int:webhook_id>/test/", views.WebhookTestApi.as_view(), name="api-webhook-test"),
]
