from django.contrib.auth.validators import ASCIIUsernameValidator
from rest_framework import serializers
from rest_framework.utils import html

from accounts.models import ApiTokenLabel, User
from relay.serializers import DestinationRefField


class StringField(serializers.CharField):
    """A JSON string only: a plain CharField takes 42 for "42", and 1e999 for "inf"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NewPasswordField(StringField):
    """A password being chosen: checked by Django's password validators (accounts/services.py), as the schema says."""

    def get_value(self, dictionary):
        # DRF reads an optional form field sent empty as one not sent; an empty password_repeat
        # must not pass for "no repeat given".
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class RegisterInput(serializers.Serializer):
    # ASCII only: SQLite compares case-insensitively only within ASCII, so a
    # username like "Ölaf" could otherwise be registered again as "ölaf".
    username = StringField(max_length=150, validators=[ASCIIUsernameValidator()])
    password = NewPasswordField(max_length=128, write_only=True, trim_whitespace=False)
    password_repeat = NewPasswordField(
        max_length=128,
        write_only=True,
        required=False,
        trim_whitespace=False,
        help_text="If given, must equal `password`.",
    )
    name = StringField(max_length=150, help_text="How the bot addresses you.")

    def validate(self, attrs: dict) -> dict:
        repeat = attrs.pop("password_repeat", None)
        if repeat is not None and repeat != attrs["password"]:
            raise serializers.ValidationError({"password_repeat": ["Passwords do not match."]})
        return attrs


class SignupInput(RegisterInput):
    name = StringField(max_length=150, required=False, allow_blank=True, help_text="Defaults to the username.")


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "name"]


class LoginInput(serializers.Serializer):
    username = StringField(max_length=150)
    password = StringField(max_length=128, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="Null: the token does not expire.")
    user = UserOutput()


class AccountDeleteInput(serializers.Serializer):
    password = StringField(max_length=128, trim_whitespace=False, help_text="The account's password, to confirm.")


class NamedTokenInput(serializers.Serializer):
    name = StringField(max_length=100, help_text="What the token is for, to tell it apart.")
    scope = serializers.ChoiceField(
        choices=ApiTokenLabel.Scope.choices,
        default=ApiTokenLabel.Scope.FULL,
        help_text="`send`: it may only send messages (no history, no settings, no links).",
    )
    destination = DestinationRefField(
        required=False,
        help_text="Limits the token to this destination (its id or label): it may only send, and only there.",
    )


class NamedTokenOutput(serializers.Serializer):
    id = serializers.CharField(source="digest", help_text="What DELETE takes; not the token.")
    name = serializers.CharField(source="label.name", default="")
    scope = serializers.CharField(source="label.scope", default=ApiTokenLabel.Scope.FULL)
    destination = serializers.IntegerField(source="label.destination_id", default=None, allow_null=True)
    created = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(source="label.last_used_at", default=None, allow_null=True)


class NewTokenOutput(NamedTokenOutput):
    token = serializers.CharField(help_text="Shown once; only a hash of it is kept.")
