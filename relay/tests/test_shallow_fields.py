"""Serializers that copy their fields shallowly still give each request fields of its own."""

import threading

import pytest
from rest_framework import serializers

from relay.serializers import MessageInput, ShallowFields


def test_two_inputs_validated_at_once_keep_their_own_values_and_errors():
    barrier = threading.Barrier(2)
    results = {}

    def validate(name: str, data: dict) -> None:
        form = MessageInput(data=data)
        barrier.wait()
        valid = form.is_valid()
        results[name] = (valid, dict(form.validated_data) if valid else form.errors)

    bodies = {
        "good": {"text": "first", "title": "One", "format": "markdown"},
        "bad": {"text": "", "title": "x" * 1000, "format": "pdf"},
    }
    threads = [threading.Thread(target=validate, args=item) for item in bodies.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    valid, data = results["good"]
    assert valid and data["text"] == "first" and data["title"] == "One" and data["format"] == "markdown"
    valid, errors = results["bad"]
    assert not valid and set(errors) == {"text", "title", "format"}


def test_each_instance_binds_copies_and_leaves_the_declared_fields_alone():
    first, second = MessageInput(data={"text": "a"}), MessageInput(data={"text": "b"})
    assert first.fields["text"] is not second.fields["text"]
    assert first.fields["text"].parent is first and second.fields["text"].parent is second
    assert MessageInput._declared_fields["text"].parent is None


def test_a_serializer_holding_other_fields_cannot_copy_them_shallowly():
    with pytest.raises(TypeError, match="holds other fields"):

        class Nested(ShallowFields, serializers.Serializer):
            tags = serializers.ListField(child=serializers.CharField())
