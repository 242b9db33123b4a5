from rest_framework import serializers

from publish.hook_templates import TemplateSyntaxError, compile_template
from publish.models import Integration
from relay.serializers import DestinationRefField


class IntegrationInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Integration.Kind.choices, help_text="The tool's protocol.")
    name = serializers.CharField(max_length=100, help_text="What it is for, to tell it apart.")
    destination = DestinationRefField(
        required=False,
        help_text="Where its messages go (id or label). Left out: the ntfy topic the request names, else the default.",
    )
    template = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10000,
        help_text="A generic webhook's message: Django's template language over the JSON payload.",
    )

    def validate_template(self, value: str) -> str:
        # Refused when made, rather than found broken when a tool posts.
        try:
            compile_template(value)
        except TemplateSyntaxError as exc:
            raise serializers.ValidationError(f"The template cannot be used: {exc}") from None
        return value


class IntegrationOutput(serializers.ModelSerializer):
    class Meta:
        model = Integration
        fields = ["id", "kind", "name", "destination", "template", "created_at", "last_used_at"]


class NewIntegrationOutput(IntegrationOutput):
    secret = serializers.CharField(help_text="Shown once; only a hash of it is kept.")
    url = serializers.CharField(help_text="Where the tool sends: paste it into its settings.")

    class Meta(IntegrationOutput.Meta):
        fields = [*IntegrationOutput.Meta.fields, "secret", "url"]
