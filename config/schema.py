"""The OpenAPI schema: each operation also documents the error answers it can give.

Views declare their success answers and the errors particular to them (409
for a chat that is not linked, 401 for wrong credentials at login); the
answers every API view may give for the same generic reasons are added here,
so the schema matches what clients actually receive.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

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
        errors = {
            # A body or header that fails validation; a list's page out of range is a 404.
            "400": ValidationError if has_body else None,
            "401": Error if needs_login else None,
            "404": Error if "{" in self.path or (self._is_list_view() and self._get_paginator()) else None,
            "413": Error if has_body else None,
            "415": Error if has_body else None,
            # Failed logins are counted for HTTP Basic too, on every authenticated operation.
            "429": Error if needs_login or self.view.get_throttles() else None,
        }
        for code, body in errors.items():
            if body is not None and code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses
