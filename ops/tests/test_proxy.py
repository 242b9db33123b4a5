"""The client's address and scheme come from X-Forwarded-* only through TRUSTED_PROXIES (ops/proxy.py)."""

import ipaddress

import pytest
from django.test import Client

from conftest import PASSWORD

WRONG = "wrong horse battery"


@pytest.fixture
def behind_proxies(settings) -> None:
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1")]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.LOGIN_FAILURES_PER_ADDRESS = 2


def failures_then_refusal(client: Client, **headers) -> list[int]:
    """Three wrong logins for different names: the third is refused once the address has two failures."""
    return [
        client.post("/users/login", {"username": f"u{n}", "password": WRONG}, content_type="application/json",
                    **headers).status_code
        for n in range(3)
    ]  # fmt: skip


@pytest.mark.django_db
def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy(behind_proxies, alice):
    # Two proxies of ours (10.0.0.2, then 10.0.0.3) in front of the client 203.0.113.5, who forged the first entry.
    via = Client(REMOTE_ADDR="10.0.0.3")
    chain = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.5, 10.0.0.2"}
    assert failures_then_refusal(via, **chain) == [401, 401, 429]

    # Another client through the same proxies is someone else.
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.6, 10.0.0.2"}
    body = {"username": "alice", "password": PASSWORD}
    assert via.post("/users/login", body, content_type="application/json", **other).status_code == 200
    # The same client, whatever it forges to the left, is the same.
    forged = {"HTTP_X_FORWARDED_FOR": "192.0.2.99, 203.0.113.5, 10.0.0.2"}
    assert via.post("/users/login", body, content_type="application/json", **forged).status_code == 429

    # A client that is not a proxy names no address: its own connection's counts.
    direct = Client(REMOTE_ADDR="198.51.100.20")
    assert failures_then_refusal(direct, HTTP_X_FORWARDED_FOR="192.0.2.1") == [401, 401, 429]


def test_only_a_trusted_proxy_makes_a_request_https(behind_proxies, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    proxied = Client(REMOTE_ADDR="::1").get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.headers["Strict-Transport-Security"] == "max-age=3600"

    # gunicorn marks a request https from X-Forwarded-Proto on its own list of proxies (here: secure=True).
    forged = Client(REMOTE_ADDR="198.51.100.20").get("/healthz", secure=True, HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in forged.headers
