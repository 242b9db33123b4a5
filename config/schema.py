"""The OpenAPI schema: each operation also documents the error answers it can give.

Views declare their success answers and the errors particular to them (409
for a chat that is not linked, 401 for wrong credentials at login); the
answers every API view may give for the same generic reasons are added here,
so the schema matches what clients actually receive.
"""

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from config import schema_rules

Error = inline_serializer("Error", {"detail": serializers.CharField()})
ValidationError = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="The request was not understood: each field named with its problems, or `detail`.",
)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        has_body = self.method in ("POST", "PUT", "PATCH")
        needs_login = bool(self.get_auth()) and {} not in self.get_auth()
        # A password in the body is hashed (a login, a sign-up, a confirmation), as HTTP Basic's is:
        # failed logins and sign-ups are limited (429), and so are hashes at once (503 when busy).
        takes_password = has_body and "password" in _fields_of(self.get_request_serializer())
        errors = {
            # A body or header that fails validation; a list's page out of range is a 404.
            "400": ValidationError if has_body else None,
            "401": Error if needs_login else None,
            "404": Error if "{" in self.path or (self._is_list_view() and self._get_paginator()) else None,
            "413": Error if has_body else None,
            "415": Error if has_body else None,
            # Failed logins are counted for HTTP Basic too, on every authenticated operation.
            "429": Error if needs_login or takes_password or self.view.get_throttles() else None,
            "503": Error if needs_login or takes_password else None,
        }
        for code, body in errors.items():
            if body is not None and code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.CharField):
            rules = _string_rules(field)
            if "description" in rules and "description" in schema:
                rules["description"] = f"{schema['description']} {rules['description']}"
            schema.update(rules)
        return schema

    def _get_pagination_parameters(self):
        parameters = super()._get_pagination_parameters()
        for parameter in parameters:
            if parameter["name"] == "page":
                # DRF's paginator answers 404 for a page below 1.
                parameter["schema"]["minimum"] = 1
        return parameters


def _fields_of(serializer) -> dict:
    if serializer is None or not hasattr(serializer, "fields"):
        return {}
    instance = serializer() if isinstance(serializer, type) else serializer
    return instance.fields


def _string_rules(field: serializers.CharField) -> dict:
    """What the server refuses in this request string, beyond the length and type already in `schema`."""
    from accounts.serializers import NewPasswordField
    from relay.serializers import MessageTextField
    from relaybot.serializers import VerificationCodeField

    if isinstance(field, MessageTextField):
        return schema_rules.visible_text()
    if isinstance(field, NewPasswordField):
        return schema_rules.new_password()
    if isinstance(field, VerificationCodeField):
        return schema_rules.verification_code()
    if any(isinstance(validator, RegexValidator) for validator in field.validators):
        return {}  # drf-spectacular states its pattern (the username's), which leaves out NUL and blanks already
    if field.trim_whitespace and not field.allow_blank:
        return schema_rules.not_blank()
    return schema_rules.no_nul()


# Where an answer's id can be used next (OpenAPI links): clients, and schemathesis' stateful
# phase, follow them from a message just sent to reading it back.
LINKS = {
    ("/api/v1/messages/", "post", "202"): {"message_id": "$response.body#/id"},
    ("/message/sent/", "post", "202"): {"message_id": "$response.body#/id"},
}


def add_links(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: each LINKS entry, to GET /api/v1/messages/{message_id}/."""
    target = result["paths"].get("/api/v1/messages/{message_id}/", {}).get("get")
    for (path, method, status), parameters in LINKS.items():
        response = result["paths"].get(path, {}).get(method, {}).get("responses", {}).get(status)
        if target is not None and response is not None:
            link = {"operationId": target["operationId"], "parameters": parameters}
            response.setdefault("links", {})["GetMessage"] = link
    return result
