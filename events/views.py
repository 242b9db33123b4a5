from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from events import selectors, services
from events.addresses import AddressRefused
from events.serializers import DeliveryOutput, EndpointInput, EndpointOutput, NewEndpointOutput

ErrorOutput = inline_serializer("WebhookError", {"detail": serializers.CharField(), "code": serializers.CharField()})


class WebhookListApi(APIView):
    @extend_schema(
        responses=EndpointOutput(many=True),
        tags=["webhooks"],
        summary="Your webhook endpoints, each with its latest deliveries",
    )
    def get(self, request):
        return Response(EndpointOutput(selectors.endpoints_for_user(user=request.user), many=True).data)

    @extend_schema(
        request=EndpointInput,
        responses={201: NewEndpointOutput, 409: ErrorOutput},
        tags=["webhooks"],
        summary="An endpoint to send events to, signed (Standard Webhooks)",
        description="Answers once with `secret`, which verifies `webhook-signature`; no later answer shows it.",
    )
    def post(self, request):
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint, _ = services.create_endpoint(user=request.user, **data.validated_data)
        except AddressRefused as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from None
        except services.TooManyEndpoints:
            body = {
                "detail": f"An account may have {services.MAX_ENDPOINTS} webhook endpoints; remove one first.",
                "code": "too_many_webhooks",
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(NewEndpointOutput(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(request=None, responses={204: None}, tags=["webhooks"], summary="Remove a webhook endpoint")
    def delete(self, request, webhook_id: int):
        if not services.delete_endpoint(user=request.user, endpoint_id=webhook_id):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestApi(APIView):
    @extend_schema(
        request=None,
        responses={202: DeliveryOutput},
        tags=["webhooks"],
        summary="Send the endpoint a webhook.test event",
        description="Queued like any event: follow it in the endpoint's `recent_deliveries`.",
    )
    def post(self, request, webhook_id: int):
        delivery = services.send_test(user=request.user, endpoint_id=webhook_id)
        if delivery is None:
            raise Http404
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
