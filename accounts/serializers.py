from django.contrib.auth.validators import ASCIIUsernameValidator
from rest_framework import serializers

from accounts.models import User


class RegisterInput(serializers.Serializer):
    # ASCII only: SQLite compares case-insensitively only within ASCII, so a
    # username like "Ölaf" could otherwise be registered again as "ölaf".
    username = serializers.CharField(max_length=150, validators=[ASCIIUsernameValidator()])
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    password_repeat = serializers.CharField(
        max_length=128,
        write_only=True,
        required=False,
        trim_whitespace=False,
        help_text="If given, must equal `password`.",
    )
    name = serializers.CharField(max_length=150, help_text="How the bot addresses you.")

    def validate(self, attrs: dict) -> dict:
        repeat = attrs.pop("password_repeat", None)
        if repeat is not None and repeat != attrs["password"]:
            raise serializers.ValidationError({"password_repeat": ["Passwords do not match."]})
        return attrs


class SignupInput(RegisterInput):
    name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, help_text="Defaults to the username."
    )


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "name"]


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="Null: the token does not expire.")
    user = UserOutput()
