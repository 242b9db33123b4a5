"""Fixtures shared by the security tests."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every password the test hasher computes, to verify one or to hash one for an unknown user."""
    computed: list[str] = []
    encode = MD5PasswordHasher.encode

    def counting_encode(self, password, salt):
        computed.append(password)
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting_encode)
    return computed
