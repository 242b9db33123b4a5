from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.addresses import AddressRefused, parse
from events.models import Delivery, Endpoint, EventType


@extend_schema_field({"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"})
class WebhookUrlField(serializers.CharField):
    """An http:// or https:// URL with a host, as the HTTP client reads it; where it points is checked later."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=2000, **kwargs)

    def to_internal_value(self, data) -> str:
        url = super().to_internal_value(data)
        try:
            parse(url)
        except AddressRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        return url


class EndpointInput(serializers.Serializer):
    url = WebhookUrlField(
        help_text="Where events are POSTed: http(s), on a public address (refused if its host resolves to a "
        "private, loopback or link-local one, unless the operator allows them)."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1, help_text="The events to send it."
    )


class DeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "webhook_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
        ]


class EndpointOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    recent_deliveries = DeliveryOutput(
        source="recent", many=True, read_only=True, help_text="The latest deliveries, newest first."
    )

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "created_at", "recent_deliveries"]


class NewEndpointOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    secret = serializers.CharField(
        help_text="The signing secret (whsec_...), for the receiver to verify webhook-signature; shown only now."
    )

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "created_at", "secret"]
