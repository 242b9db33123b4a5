from django.urls import path

from relay import views

urlpatterns = [
    path("messages/", views.MessageListApi.as_view(), name="api-messages"),
    path("messages/<int:message_id>/", views.MessageDetailApi.as_view(), name="api-message"),
    path("destinations/", views.DestinationListApi.as_view(), name="api-destinations"),
    path("destinations/<int:destination_id>/", views.DestinationDetailApi.as_view(), name="api-destination"),
]
