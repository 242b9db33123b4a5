"""Fixtures for the cabinet's page tests: browsers logged in as alice and bob."""

import pytest
from django.test import Client


@pytest.fixture
def alice_web(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_web(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client
