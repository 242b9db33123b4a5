from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.schema import Error as ErrorOutput
from publish import selectors, services
from publish.serializers import IntegrationInput, IntegrationOutput, NewIntegrationOutput
from publish.urls_for import integration_url
from relay.views import named_destination


class IntegrationListApi(APIView):
    @extend_schema(responses=IntegrationOutput(many=True), tags=["integrations"], summary="Your integrations")
    def get(self, request):
        return Response(IntegrationOutput(selectors.integrations_for_user(user=request.user), many=True).data)

    @extend_schema(
        request=IntegrationInput,
        responses={201: NewIntegrationOutput, 404: ErrorOutput},
        tags=["integrations"],
        summary="A send-only credential for a tool: ntfy, Gotify, a webhook, Alertmanager or Grafana",
        description="Answers once with `secret` and the `url` to paste into the tool; only a hash is kept.",
    )
    def post(self, request):
        data = IntegrationInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        destination = None
        if "destination" in values:
            destination = named_destination(request.user, values["destination"])
        integration, secret = services.create_integration(
            user=request.user,
            kind=values["kind"],
            name=values["name"],
            destination=destination,
            template=values.get("template", ""),
        )
        body = {**IntegrationOutput(integration).data, "secret": secret, "url": integration_url(integration, secret)}
        return Response(body, status=status.HTTP_201_CREATED)


class IntegrationDetailApi(APIView):
    @extend_schema(request=None, responses={204: None}, tags=["integrations"], summary="Revoke an integration")
    def delete(self, request, integration_id: int):
        if not services.revoke_integration(user=request.user, integration_id=integration_id):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)
